# gecko: `make demo` runs the pipeline on the bundled examples; `make test` runs the tests.
# Both install what they need into .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
GECKO := $(VENV)/bin/gecko
DEMO ?= demo-workspace

.PHONY: install test test-slow bench lint demo clean

install: $(VENV)/.installed
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; }; } >/dev/null 2>&1; } || \
		echo "note: bubblewrap is not installed; gecko eval --suite humaneval needs it (apt-get install bubblewrap)"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[train,dev]"
	touch $@

test: install
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pytest -q -m slow

bench: install
	$(PY) -m pip install -q -e ".[train,dev,bench]"
	$(PY) benchmarks/bench_dedup.py
	$(PY) benchmarks/bench_langid.py
	$(PY) benchmarks/bench_rules.py
	$(PY) benchmarks/bench_balance.py
	$(PY) benchmarks/bench_tokenizer.py
	$(PY) benchmarks/bench_pack.py
	$(PY) benchmarks/bench_reader.py
	$(PY) benchmarks/bench_attention.py
	$(PY) benchmarks/bench_attention_cpu.py
	$(PY) benchmarks/bench_pretrain.py
	$(PY) benchmarks/bench_eval.py
	$(PY) benchmarks/bench_humaneval.py

lint: install
	$(VENV)/bin/ruff check src tests benchmarks examples

demo: install
	rm -rf $(DEMO)
	mkdir -p $(DEMO)
	cp -r examples/raw $(DEMO)/raw
	cp -r examples/evaldata $(DEMO)/evaldata
	cd $(DEMO) && ../$(GECKO) dedup --keep-dropped dropped
	cd $(DEMO) && ../$(GECKO) balance --mix ko=0.35,en=0.28,code=0.37
	$(GECKO) inspect $(DEMO)/mixed --samples 2
	cd $(DEMO) && ../$(GECKO) train-tokenizer --vocab 4000 --byte-fallback
	cd $(DEMO) && ../$(GECKO) pack --seq-len 1024
	$(GECKO) inspect $(DEMO)/packed --samples 1
	cd $(DEMO) && ../$(GECKO) pretrain --model tiny --steps 40 --batch-tokens 4K --lr 3e-3 --warmup-steps 4 \
		--eval-every 20 --checkpoint-every 20 --log-every 10
	cd $(DEMO) && ../$(GECKO) eval --suite kmmlu,mmlu,humaneval,bpb --limit 8 --max-new-tokens 64 --log-samples

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
