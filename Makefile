# Benchmarks (see docs/benchmarks.md). Results land in bench/results/.
PYTHON ?= .venv/bin/python
SESSIONS ?= 1500
CONCURRENCY ?= 4

.PHONY: bench bench-ingest bench-hook bench-smoke

bench: bench-ingest bench-hook

bench-hook:
	$(PYTHON) -m bench.hook_latency --runs 15

bench-ingest:
	$(PYTHON) -m bench.ingest --sessions $(SESSIONS) --users 200 --orgs 20 --days 30 --concurrency $(CONCURRENCY)

bench-smoke:
	$(PYTHON) -m pytest -q tests/test_bench_smoke.py
