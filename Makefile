VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test check bench gallery serve

$(VENV)/bin/python:
	python3 -m venv $(VENV)

install: $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[dev,diffusion]'

test: install
	HF_HUB_OFFLINE=1 $(PY) -m pytest

check: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

serve: install
	$(VENV)/bin/twoshot serve

gallery: install
	$(PY) bench/gallery.py

bench: install
	$(PY) bench/api.py
	$(PY) bench/peers.py
	$(PY) bench/vision.py
	$(PY) bench/demographics.py
	$(PY) bench/studio.py
	$(PY) bench/provenance.py
	$(PY) bench/safety.py
	$(PY) bench/verify.py
	$(PY) bench/lease_queue.py
	$(PY) bench/gpu_qwen_edit.py
	$(PY) bench/gpu_flux2_klein.py
