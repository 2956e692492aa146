# gecko: `make demo` runs the pipeline on the bundled examples; `make test` runs the tests.
# Both install what they need into .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
GECKO := $(VENV)/bin/gecko
DEMO ?= demo-workspace

.PHONY: install test test-slow bench lint demo clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

test: install
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pytest -q -m slow

bench: install
	$(PY) -m pip install -q -e ".[dev,bench]"
	$(PY) benchmarks/bench_dedup.py
	$(PY) benchmarks/bench_langid.py
	$(PY) benchmarks/bench_rules.py
	$(PY) benchmarks/bench_balance.py
	$(PY) benchmarks/bench_tokenizer.py
	$(PY) benchmarks/bench_pack.py
	$(PY) benchmarks/bench_reader.py

lint: install
	$(VENV)/bin/ruff check src tests benchmarks examples

demo: install
	rm -rf $(DEMO)
	mkdir -p $(DEMO)
	cp -r examples/raw $(DEMO)/raw
	cd $(DEMO) && ../$(GECKO) dedup --keep-dropped dropped
	cd $(DEMO) && ../$(GECKO) balance --mix ko=0.35,en=0.28,code=0.37
	$(GECKO) inspect $(DEMO)/mixed --samples 2
	cd $(DEMO) && ../$(GECKO) train-tokenizer --vocab 4000 --byte-fallback
	cd $(DEMO) && ../$(GECKO) pack --seq-len 1024
	$(GECKO) inspect $(DEMO)/packed --samples 1

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
