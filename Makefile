# The two commands a user needs: `make demo` and `make test`. `make bench` measures.
# `make dist` builds the packages users install, into dist/ (mk/dist.mk).
# Every tool the targets need is installed here, into .venv and node_modules folders.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(abspath .)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
export CARGO_TERM_COLOR := never

.PHONY: demo test bench readme-check rust-test rust-lint rust-demo rust-bench conformance

demo: rust-demo python-demo node-demo store-demo

test: readme-check rust-lint rust-test python-test node-test conformance store-test dist-test http-test adapters-test
	@echo "make test: all suites passed"

bench: rust-bench python-bench node-bench store-bench http-bench resilience-bench

# The README's examples are the files the tests run: fail if the README shows anything else.
readme-check:
	@for f in examples/readme_example.py examples/readme_example.js examples/resilience_example.py examples/resilience_example.js; do \
	  python3 -c 'import sys; r = open("README.md").read(); e = open(sys.argv[1]).read(); sys.exit(0 if e in r else "README.md does not show " + sys.argv[1] + " unchanged")' $$f; \
	done
	@echo "readme-check: README.md shows the examples the tests run"

rust-test:
	cargo test -p flightcache --release -- --show-output

rust-lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc -q -p flightcache --no-deps

rust-demo:
	cargo run -q --release -p flightcache --example handler

rust-bench:
	cargo bench -p flightcache --bench compare

include mk/python.mk
include mk/node.mk
include mk/conformance.mk
include mk/dist.mk
include mk/stores.mk
include mk/http.mk
include mk/resilience.mk
include mk/adapters.mk
