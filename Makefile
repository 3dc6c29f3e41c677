# The two commands of the README: `make run` and `make test`. Both set up .venv first if needed.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test lint format bench-setup bench clean

setup:
	@bash scripts/bootstrap.sh

run: setup
	$(BIN)/recsearch run $(ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest $(ARGS)

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench-setup:
	@bash scripts/bootstrap.sh requirements/bench.txt

bench: bench-setup
	$(BIN)/recsearch bench $(ARGS)

clean:
	rm -rf out .pytest_cache
