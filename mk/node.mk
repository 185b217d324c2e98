# Node package targets (filled in with the binding).
.PHONY: node-build node-test node-demo node-bench
node-build:
node-test:
node-demo:
node-bench:
