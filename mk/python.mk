# Python package targets (filled in with the binding).
.PHONY: python-build python-test python-demo python-bench
python-build:
python-test:
python-demo:
python-bench:
