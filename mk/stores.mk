# Shared stores across processes: Python and Node processes on one SQLite file (tests/stores),
# each process started and waited for (or killed) by the test.
.PHONY: store-test

store-test: python-build node-build
	cd $(ROOT)/tests/stores && $(PY) -m pytest -q -p no:cacheprovider -s .

# make demo: Python and Node handler processes share one SQLite file; a restart finds it.
.PHONY: store-demo
store-demo: python-build node-build
	$(PY) $(ROOT)/examples/sqlite_demo.py
