# make resilience-bench (part of make bench): what the resilience policies (issue 11) cost on
# a hit, with every policy set against none (Rust core, Python, Node), and a
# stale-while-revalidate workload against the anchors that have one: cashews' early refresh
# (Python, installed into $(VENV)) and lru-cache's fetch with allowStale and
# noDeleteOnStaleGet (Node, installed into bench/resilience/node_modules). Both sides of
# every comparison take turns in one run (the machine may be shared). Never part of
# make test; nothing asserts a timing.
.PHONY: resilience-bench
RESILIENCE_BENCH := $(ROOT)/bench/resilience

resilience-bench: python-build node-build
	cargo run -q --release -p flightcache --example resilience_bench
	@$(PY) -m pip install -q --disable-pip-version-check cashews
	$(PY) $(RESILIENCE_BENCH)/python_resilience_bench.py
	cd $(RESILIENCE_BENCH) && npm install --no-audit --no-fund --loglevel=error
	node --expose-gc $(RESILIENCE_BENCH)/node_resilience_bench.js
