# Drop-in adapters (issue 15): the frameworks' own shared test suites, at pinned versions,
# against flightcache.contrib.django / flightcache.contrib.cachelib and flightcache/keyv, in
# memory, with a SQLite store and with a Redis store. The suites come from the projects' source distributions
# (pip download --no-binary) and npm packages, into target/adapters, and (keyv 6's suite,
# cache-manager's tests) from tests/adapters/node/vendor; failures that are deliberate are
# listed in tests/adapters/README.md.
.PHONY: adapters-test adapters-py-deps adapters-python-test adapters-node-test

ADAPTERS := $(ROOT)/target/adapters
ADAPTERS_PY_TESTS := $(ROOT)/tests/adapters/python
ADAPTERS_NODE_TESTS := $(ROOT)/tests/adapters/node
DJANGO_VERSION := 5.2.19
CACHELIB_VERSION := 0.17.0
FLASK_CACHING_VERSION := 2.5.1
ADAPTERS_PY_DEPS := django==$(DJANGO_VERSION) cachelib==$(CACHELIB_VERSION) \
  flask-caching==$(FLASK_CACHING_VERSION) flask==3.1.3 pytest-xprocess==1.0.2
CACHELIB_TESTS := $(ADAPTERS)/cachelib-$(CACHELIB_VERSION)/tests
FLASK_CACHING_TESTS := $(ADAPTERS)/flask_caching-$(FLASK_CACHING_VERSION)/tests
DJANGO_TESTS := $(ADAPTERS)/django-$(DJANGO_VERSION)/tests

adapters-test: adapters-python-test adapters-node-test
	@echo "adapters-test: the Django, cachelib, Flask-Caching and Keyv suites ran (counts above)"

# The frameworks in the repo's .venv (stubtest imports flightcache.contrib too), and their
# test suites from their source distributions.
adapters-py-deps: python-venv
	@$(PY) -m pip install -q --disable-pip-version-check $(ADAPTERS_PY_DEPS)
	@mkdir -p $(ADAPTERS)/sdist
	@test -d $(DJANGO_TESTS)/cache -a -d $(CACHELIB_TESTS) -a -d $(FLASK_CACHING_TESTS) || { \
	  $(PY) -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
	    -d $(ADAPTERS)/sdist django==$(DJANGO_VERSION) cachelib==$(CACHELIB_VERSION) \
	    flask-caching==$(FLASK_CACHING_VERSION) && \
	  tar xzf $(ADAPTERS)/sdist/django-$(DJANGO_VERSION).tar.gz -C $(ADAPTERS) django-$(DJANGO_VERSION)/tests/cache && \
	  tar xzf $(ADAPTERS)/sdist/cachelib-$(CACHELIB_VERSION).tar.gz -C $(ADAPTERS) cachelib-$(CACHELIB_VERSION)/tests && \
	  tar xzf $(ADAPTERS)/sdist/flask_caching-$(FLASK_CACHING_VERSION).tar.gz -C $(ADAPTERS) flask_caching-$(FLASK_CACHING_VERSION)/tests; }

python-stubtest: adapters-py-deps

# Each suite in memory, then with a SQLite store, then with a Redis store on a loopback
# redis-server that tests/stores/redis_server.py starts for the run (free port, data folder
# of its own, stopped by its pid). Our test modules are copied next to the suites' own (they
# import the suites' modules and conftest.py from there).
adapters-python-test: python-build adapters-py-deps redis-server-installed
	cp $(ADAPTERS_PY_TESTS)/test_cachelib_suite.py $(CACHELIB_TESTS)/
	cp $(ADAPTERS_PY_TESTS)/test_flask_caching_suite.py $(FLASK_CACHING_TESTS)/
	$(MAKE) --no-print-directory adapters-python-suites ADAPTER_STORE=memory
	$(MAKE) --no-print-directory adapters-python-suites ADAPTER_STORE=sqlite
	python3 $(ROOT)/tests/stores/redis_server.py -- \
	  $(MAKE) --no-print-directory adapters-python-suites ADAPTER_STORE=redis

# The three Python suites with one store (ADAPTER_STORE: memory, sqlite, redis); used by
# adapters-python-test, which builds and installs what they need first.
.PHONY: adapters-python-suites
adapters-python-suites:
	@echo "== cachelib $(CACHELIB_VERSION) shared tests ($(ADAPTER_STORE))"
	cd $(CACHELIB_TESTS) && ADAPTER_STORE=$(ADAPTER_STORE) $(PY) -m pytest -q -p no:cacheprovider test_cachelib_suite.py
	@echo "== Flask-Caching $(FLASK_CACHING_VERSION) backend tests ($(ADAPTER_STORE))"
	cd $(FLASK_CACHING_TESTS) && ADAPTER_STORE=$(ADAPTER_STORE) $(PY) -m pytest -q -p no:cacheprovider test_flask_caching_suite.py
	@echo "== Django $(DJANGO_VERSION) BaseCacheTests ($(ADAPTER_STORE))"
	ADAPTER_STORE=$(ADAPTER_STORE) $(PY) $(ADAPTERS_PY_TESTS)/django_suite.py $(DJANGO_TESTS) $(ADAPTER_STORE)

# Keyv's own suites (@keyv/test-suite 2.1.2 on keyv 5.6.0; keyv's keyv 6 suite, vendored),
# cache-manager 7.2.9's own test files (vendored) and our keyv 6 / cache-manager checks, with
# vitest, in tests/adapters/node (`flightcache` there is bindings-node): in memory, with a
# SQLite store, and with a Redis store on a loopback redis-server that
# tests/stores/redis_server.py starts for the run and stops by its pid.
# --ignore-scripts: @keyv/test-suite depends on sqlite3, which it never loads; its build
# would need a download.
adapters-node-test: node-build redis-server-installed
	cd $(ADAPTERS_NODE_TESTS) && npm install --no-audit --no-fund --loglevel=error --ignore-scripts
	@ln -sfn ../../../../bindings-node $(ADAPTERS_NODE_TESTS)/node_modules/flightcache
	cd $(ADAPTERS_NODE_TESTS) && node run.mjs memory && node run.mjs sqlite && \
	  python3 $(ROOT)/tests/stores/redis_server.py -- node run.mjs redis
