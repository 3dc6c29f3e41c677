# The two commands of the README: `make run` and `make test`. Both set up .venv first if needed.
VENV := .venv
BIN := $(VENV)/bin

# `make image`: the pipeline image (Dockerfile); VARIANT=gpu for the Trainer's CUDA variant.
IMAGE ?= recsearch
TAG ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
VARIANT ?= cpu
IMAGE_TAG := $(TAG)$(if $(filter gpu,$(VARIANT)),-gpu,)

.PHONY: setup run test lint format bench-setup bench clean image

setup:
	@bash scripts/bootstrap.sh

run: setup
	$(BIN)/recsearch run $(ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Test files run in parallel, one file per worker at a time (its module fixtures shared).
JOBS ?= auto
test: lint
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile $(ARGS)

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench-setup:
	@bash scripts/bootstrap.sh requirements/bench.txt

bench: bench-setup
	$(BIN)/recsearch bench $(ARGS)

clean:
	rm -rf out .pytest_cache

image:
	docker build --build-arg VARIANT=$(VARIANT) -t $(IMAGE):$(IMAGE_TAG) .
	@echo "Built $(IMAGE):$(IMAGE_TAG); push it and set kubeflow.image (docs/kubeflow.md)"
