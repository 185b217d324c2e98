# Cross-language conformance scenarios (tests/scenarios/*.json, format in tests/README.md),
# run by the Rust core, the Python package and the Node package, one test per scenario.
# `conformance-mutants` then shows each runner fails on a changed expectation (tests/mutants.py).
.PHONY: conformance conformance-rust conformance-python conformance-node conformance-node-link \
        conformance-mutants conformance-stores

CONFORMANCE_NODE_LINK := $(ROOT)/tests/node/node_modules/flightcache

conformance: conformance-rust conformance-python conformance-node conformance-stores conformance-mutants
	@echo "conformance: the Rust, Python and Node runners agree on every scenario"

# The same scenarios with a shared store behind every cache (scenarios marked
# in_process_only are reported as skipped, with their reason): memory://, SQLite, and a Redis
# server started for each runner (tests/stores/redis_server.py).
conformance-stores: python-build node-build conformance-node-link
	CONFORMANCE_STORE=memory cargo test -p flightcache --release --test conformance
	CONFORMANCE_STORE=sqlite cargo test -p flightcache --release --test conformance
	CONFORMANCE_STORE=sqlite $(PY) -m pytest -q -p no:cacheprovider tests/python
	CONFORMANCE_STORE=sqlite node --test tests/node/
	$(MAKE) --no-print-directory redis-server-installed
	python3 tests/stores/redis_server.py -- cargo test -p flightcache --release --test conformance
	python3 tests/stores/redis_server.py -- $(PY) -m pytest -q -p no:cacheprovider tests/python
	python3 tests/stores/redis_server.py -- node --test tests/node/

conformance-rust:
	cargo test -p flightcache --release --test conformance

conformance-python: python-build
	$(PY) -m pytest -p no:cacheprovider tests/python

# `require('flightcache')` from tests/node resolves to the package in bindings-node.
conformance-node-link:
	@mkdir -p $(dir $(CONFORMANCE_NODE_LINK))
	@ln -sfn ../../../bindings-node $(CONFORMANCE_NODE_LINK)

conformance-node: node-build conformance-node-link
	node --test tests/node/

conformance-mutants: python-build node-build conformance-node-link
	python3 tests/mutants.py rust -- cargo test -q -p flightcache --release --test conformance
	python3 tests/mutants.py python -- $(PY) -m pytest -q -rf -p no:cacheprovider tests/python
	python3 tests/mutants.py node -- node --test tests/node/
