# Benchmarks (see docs/benchmarks.md). Results land in bench/results/.
PYTHON ?= .venv/bin/python
SESSIONS ?= 1000
CONCURRENCY ?= 16
FLEET = --sessions $(SESSIONS) --users 200 --orgs 20 --days 30 --concurrency $(CONCURRENCY)

.PHONY: bench bench-decode bench-ingest bench-ingest-http bench-memory bench-latency bench-query bench-hook bench-storage bench-insert-cost bench-parts-read bench-import bench-pages bench-enrich bench-enrich-instructions bench-smoke

bench: bench-ingest bench-ingest-http bench-decode bench-query bench-hook bench-enrich

bench-hook:
	$(PYTHON) -m bench.hook_latency

bench-ingest:
	$(PYTHON) -m bench.ingest $(FLEET)

# the compiled logs decoder beside the Python one: per record, GIL overlap, loomline serve with each
bench-decode:
	$(PYTHON) -m bench.decode --sessions 300

bench-ingest-http:
	$(PYTHON) -m bench.ingest $(FLEET) --transport http --label ingest-http

# sustained ingest for 10 minutes with enrichment on: is the receiver's memory flat?
bench-memory:
	$(PYTHON) -m bench.ingest --sessions 300 --users 100 --orgs 20 --days 30 --concurrency $(CONCURRENCY) \
		--duration 600 --enrich --label memory

# the maximum rate, then export-call latency (p50/p99/max) at half of it from an open-loop
# client, enrichment on: requests are due at fixed intervals and latency runs from the due time
bench-latency:
	$(PYTHON) -m bench.ingest $(FLEET) --latency --fraction 0.5 --paced-seconds 60 --enrich --label latency

# ClickHouse's CPU per insert by the rows it carries (why the writer merges waiting requests)
bench-insert-cost:
	$(PYTHON) -m bench.insert_cost

# what more parts per partition cost the queries that read them (the other side of fewer merges)
bench-parts-read:
	$(PYTHON) -m bench.parts_read

# bytes on disk per million events (capacity arithmetic, docs/scale-out.md)
bench-storage:
	$(PYTHON) -m bench.storage_size --sessions 1000 --orgs 20 --users 200 --days 30

# derivation from 1k to 100k events, and enrichment CPU per ingested record (docs/benchmarks.md)
bench-enrich:
	$(PYTHON) -m bench.enrich

# the same derivations under valgrind's callgrind: instructions and cache misses per event (load-independent)
bench-enrich-instructions:
	$(PYTHON) -m bench.enrich_instructions

bench-query:
	$(PYTHON) -m bench.query

# loomline import on a generated transcript history (IMPORT_MB=1024 for the issue's 1 GB)
IMPORT_MB ?= 50
bench-import:
	$(PYTHON) -m bench.import_bench --size-mb $(IMPORT_MB)

# the explorer's pages: server time of the API calls each page makes, over bench-query's data
bench-pages:
	$(PYTHON) -m bench.pages

bench-smoke:
	$(PYTHON) -m pytest -q tests/test_bench_smoke.py tests/test_bench_query_smoke.py tests/test_bench_enrich_smoke.py

# The compiled logs decoder under libFuzzer + ASan + UBSan (docs/decoder.md). Needs clang and
# its runtime (Debian: apt-get install clang libclang-rt-14-dev). FUZZ_SECONDS=600 for ten minutes.
FUZZ_SECONDS ?= 60
FUZZ_DIR ?= build/fuzz
LOGSWIRE = receiver/_logswire_c
.PHONY: fuzz-decoder fuzz-corpus
fuzz-corpus:
	$(PYTHON) -m tests.fuzz_corpus $(FUZZ_DIR)/seeds

fuzz-decoder: fuzz-corpus
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -DLW_LIBFUZZER \
		$(LOGSWIRE)/scan.c $(LOGSWIRE)/fuzz_scan.c -o $(FUZZ_DIR)/fuzz_logswire
	mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/artifacts
	$(FUZZ_DIR)/fuzz_logswire -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -max_len=65536 \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/ $(FUZZ_DIR)/corpus $(FUZZ_DIR)/seeds
