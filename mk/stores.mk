# Shared stores across processes: Python and Node processes on one SQLite file and on Redis
# servers the tests start (tests/stores), each process started and waited for (or killed)
# by the test.
.PHONY: store-test redis-server-installed

store-test: python-build node-build redis-server-installed
	cd $(ROOT)/tests/stores && $(PY) -m pytest -q -p no:cacheprovider -s .

# The Redis tests start their own servers: the Debian package redis-server provides the
# binary. Installed when missing (as root, or with sudo that needs no password); a machine
# where that is impossible fails here, saying so, and skips nothing.
redis-server-installed:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "make test: redis-server is missing; installing the Debian package redis-server"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else echo "make test: redis-server is missing and cannot be installed here (not root, no sudo): install the Debian package redis-server" >&2; exit 1; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >/dev/null; } || \
	  { echo "make test: installing redis-server failed: install the Debian package redis-server" >&2; exit 1; }; \
	  command -v redis-server >/dev/null 2>&1 || { echo "make test: redis-server is still missing after apt-get" >&2; exit 1; }; }
	@echo "redis-server: $$(redis-server --version | cut -d' ' -f3)"

# make demo: Python and Node handler processes share one SQLite file, then one Redis server
# the demo starts; a restart finds the token; a killed Redis fails no handler.
.PHONY: store-demo
store-demo: python-build node-build redis-server-installed
	$(PY) $(ROOT)/examples/store_demo.py

# make bench: the SQLite store against diskcache (Python) and Keyv + @keyv/sqlite (Node), and
# from Rust (p50 / p99). The Node anchors are installed into bench/stores/node_modules (the
# sqlite3 package builds from source there, which takes about a minute the first time).
# Then the Redis store (store-redis-bench, also a target of its own).
.PHONY: store-bench store-redis-bench
store-bench: python-build node-build redis-server-installed
	cargo run -q --release -p flightcache --example store_bench
	@$(PY) -m pip install -q --disable-pip-version-check diskcache
	$(PY) $(ROOT)/bench/stores/python_store_bench.py
	cd $(ROOT)/bench/stores && npm install --no-audit --no-fund --loglevel=error
	node $(ROOT)/bench/stores/node_store_bench.js
	$(store_redis_bench)

# The Redis store against redis-py (with hiredis, the parser it picks when installed, and
# without) and cashews (Python), ioredis and cache-manager with @keyv/redis (Node), and
# redis-rs (Rust), on one loopback Redis that redis_server.py starts for the run (free port,
# own folder, stopped by its pid). Each bench empties that database first. Never part of
# make test; nothing asserts a timing.
define store_redis_bench
@$(PY) -m pip install -q --disable-pip-version-check redis hiredis cashews
cd $(ROOT)/bench/stores && npm install --no-audit --no-fund --loglevel=error
cargo build -q --release -p flightcache --example redis_bench
$(PY) $(ROOT)/tests/stores/redis_server.py -- bash -euo pipefail -c '\
  cargo run -q --release -p flightcache --example redis_bench; \
  $(PY) $(ROOT)/bench/stores/python_redis_bench.py; \
  node $(ROOT)/bench/stores/node_redis_bench.js'
endef

store-redis-bench: python-build node-build redis-server-installed
	$(store_redis_bench)
