# Python package targets: bindings-python/ (pyo3 + maturin), examples/*.py, bench/python_bench.py.
# Every target installs what it needs into $(VENV), so they work on a fresh machine.
.PHONY: python-venv python-build python-test python-unit python-stubtest python-install-check \
        python-demo python-bench

PY_PKG := $(ROOT)/bindings-python
PY_TOOLS := maturin pytest pytest-timeout mypy trustme
PY_BENCH_TOOLS := cachebox moka-py cachetools
# A second, throw-away virtualenv for the "pip install ./bindings-python" check.
PY_FRESH := $(ROOT)/target/py-fresh-venv

python-venv:
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check $(PY_TOOLS)

# Builds the extension (release) into the venv as an editable install.
python-build: python-venv
	cd $(PY_PKG) && $(VENV)/bin/maturin develop --release -q

python-unit: python-build
	cd $(PY_PKG) && $(PY) -m pytest -q -p no:cacheprovider tests

python-stubtest: python-build
	cd $(PY_PKG) && $(PY) -m mypy.stubtest flightcache
	cd $(ROOT) && $(PY) -m mypy --strict --no-incremental examples/readme_example.py examples/handler.py \
	  examples/resilience_example.py

# What a user does on a fresh clone: a new virtualenv, `pip install ./bindings-python`, then
# the README's Python example, run as written.
python-install-check:
	rm -rf $(PY_FRESH)
	python3 -m venv $(PY_FRESH)
	$(PY_FRESH)/bin/python -m pip install -q --disable-pip-version-check $(PY_PKG)
	cd /tmp && $(PY_FRESH)/bin/python $(ROOT)/examples/readme_example.py

python-test: python-unit python-stubtest python-install-check
	@echo "python-test: pytest, stubtest and the fresh-venv install all passed"

python-demo: python-build
	$(PY) $(ROOT)/examples/handler.py
	$(PY) $(ROOT)/examples/resilience_example.py

python-bench: python-build
	@$(PY) -m pip install -q --disable-pip-version-check $(PY_BENCH_TOOLS)
	$(PY) $(ROOT)/bench/python_bench.py
