# Shared stores across processes: Python and Node processes on one SQLite file (tests/stores),
# each process started and waited for (or killed) by the test.
.PHONY: store-test

store-test: python-build node-build
	cd $(ROOT)/tests/stores && $(PY) -m pytest -q -p no:cacheprovider -s .

# make demo: Python and Node handler processes share one SQLite file; a restart finds it.
.PHONY: store-demo
store-demo: python-build node-build
	$(PY) $(ROOT)/examples/sqlite_demo.py

# make bench: the SQLite store against diskcache (Python) and Keyv + @keyv/sqlite (Node), and
# from Rust (p50 / p99). The Node anchors are installed into bench/stores/node_modules (the
# sqlite3 package builds from source there, which takes about a minute the first time).
.PHONY: store-bench
store-bench: python-build node-build
	cargo run -q --release -p flightcache --example store_bench
	@$(PY) -m pip install -q --disable-pip-version-check diskcache
	$(PY) $(ROOT)/bench/stores/python_store_bench.py
	cd $(ROOT)/bench/stores && npm install --no-audit --no-fund --loglevel=error
	node $(ROOT)/bench/stores/node_store_bench.js
