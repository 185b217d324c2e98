# HTTP response caching and access tokens (flightcache.http, flightcache/http, cache.token):
# the Python and Node helpers against a real local server on a free loopback port, which each
# test starts and stops. `http-bench` compares them with hishel, requests-cache,
# axios-cache-interceptor and undici's cache interceptor (in `make bench` only).
.PHONY: http-test http-python-test http-node-test http-py-deps http-node-deps http-bench \
        http-bench-python http-bench-node

HTTP_PY_DEPS := httpx requests types-requests
HTTP_NODE_TESTS := $(ROOT)/tests/http/node
HTTP_BENCH := $(ROOT)/bench/http

http-test: http-python-test http-node-test
	@echo "http-test: the Python and Node HTTP and token helpers passed"

# The helpers' clients, in the repo's .venv (also what mypy needs to check examples/handler.py).
http-py-deps: python-venv
	@$(PY) -m pip install -q --disable-pip-version-check $(HTTP_PY_DEPS)

# axios into tests/http/node/node_modules; `require('flightcache')` there is bindings-node.
http-node-deps:
	cd $(HTTP_NODE_TESTS) && npm install --no-audit --no-fund --loglevel=error
	@ln -sfn ../../../../bindings-node $(HTTP_NODE_TESTS)/node_modules/flightcache
	cd $(ROOT)/examples && npm install --no-audit --no-fund --loglevel=error

http-python-test: python-build http-py-deps
	cd $(ROOT)/tests/http/python && $(PY) -m pytest -q -p no:cacheprovider .

http-node-test: node-build http-node-deps
	cd $(HTTP_NODE_TESTS) && node --test http.test.js token.test.js

# The examples use the helpers (httpx in Python, axios in Node).
python-stubtest python-demo: http-py-deps
node-demo: http-node-deps

http-bench: http-bench-python http-bench-node

http-bench-python: python-build http-py-deps
	@$(PY) -m pip install -q --disable-pip-version-check hishel requests-cache
	$(PY) $(HTTP_BENCH)/python_http_bench.py

http-bench-node: node-build
	cd $(HTTP_BENCH) && npm install --no-audit --no-fund --loglevel=error
	@ln -sfn ../../../bindings-node $(HTTP_BENCH)/node_modules/flightcache
	cd $(HTTP_BENCH) && node node_http_bench.js
