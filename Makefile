# Two entry points (see README): `make serve` runs the product, `make test` runs every test.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
DATA    ?= var
HOST    ?= 127.0.0.1
PORT    ?= 8000
STAMP   := $(VENV)/.installed

.PHONY: serve test install index bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU torch first, from the local wheel: otherwise sentence-transformers pulls the CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

index: $(STAMP)
	$(BIN)/regkb --data-dir $(DATA) ingest --no-build
	$(BIN)/regkb --data-dir $(DATA) build

serve: index
	@echo "regkb: serving on http://$(HOST):$(PORT)/"
	$(BIN)/regkb --data-dir $(DATA) serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	# In CI the real-browser test must run or fail (REGKB_REQUIRE_BROWSER): no silent skip.
	bash tests/setup_browser.sh || { [ -z "$$CI" ] || exit 1; echo "warning: Chromium could not be installed; the browser test will skip"; }
	# The embedding tests export and quantise the model (torch + onnxruntime): in a process of their own, so the
	# rest of the suite's loaded indexes and models are not held beside the export.
	REGKB_REQUIRE_BROWSER=$${CI:+1} $(BIN)/python -m pytest -q --ignore=tests/test_embedding.py
	$(BIN)/python -m pytest -q tests/test_embedding.py

# The query path side by side (ONNX vs torch, through HTTP: issue 12's targets), then the sizes benchmark.
# The statutes archive is the scale corpus (issue 13): real laws instead of the synthetic sizes, when it is there.
LAWS    ?= ../shared/corpora/egov-laws-html.tar.xz

bench: $(STAMP)
	$(BIN)/python -m eval.bench_query_path
	if [ -f "$(LAWS)" ]; then \
		$(BIN)/python -m eval.bench --sizes real --laws "$(LAWS)"; \
	else \
		echo "bench: no e-Gov archive at $(LAWS) (set LAWS=...): synthetic sizes instead"; \
		$(BIN)/python -m eval.bench; \
	fi

clean:
	rm -rf $(DATA) $(VENV)
