# Node package targets: the npm package `flightcache` in bindings-node/.
# node-build compiles the native module from source (cargo) exactly as `npm install` does.
.PHONY: node-build node-test node-demo node-bench
NODE_PKG := $(ROOT)/bindings-node
NODE_BENCH := $(ROOT)/bench/node

node-build:
	cd $(NODE_PKG) && node scripts/build.js

node-test: node-build
	cargo fmt -p flightcache-node -- --check
	cargo clippy -q -p flightcache-node --no-deps -- -D warnings
	cd $(NODE_PKG) && node --expose-gc --test test/*.test.js

node-demo: node-build conformance-node-link
	node $(ROOT)/examples/handler.js
	NODE_PATH=$(ROOT)/tests/node/node_modules node $(ROOT)/examples/resilience_example.js

# Installs the libraries it compares against into bench/node/node_modules.
node-bench: node-build
	cd $(NODE_BENCH) && npm install --no-audit --no-fund --loglevel=error
	cd $(NODE_BENCH) && node --expose-gc bench.js
