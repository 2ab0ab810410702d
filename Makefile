# Flywheel Studio: `make run` starts the studio on the demo project; `make test` runs the suite.
# Both bootstrap a machine that has only Python and pip (uv, the locked venv, Debian packages).

PY := .venv/bin/python
PORT ?= 7860
PROJECT ?=
PROJECT_ARG := $(if $(PROJECT),--project $(PROJECT),)
PYTEST_ARGS ?=
# `make test` runs test files on this many pytest-xdist workers (docs/testing.md: on 2 cores the
# serial suite leaves a core idle while tests wait on servers, trainers and the browser).
TEST_WORKERS ?= 2

export MUJOCO_GL ?= osmesa
export PYOPENGL_PLATFORM ?= osmesa
export HF_HUB_OFFLINE ?= 1
export GRADIO_ANALYTICS_ENABLED = False

.PHONY: run test test-slow bootstrap bench clean

run:
	@scripts/bootstrap.sh run
	$(PY) -m studio.cli launch --port $(PORT) $(PROJECT_ARG)

test:
	@scripts/bootstrap.sh test
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-slow:
	@scripts/bootstrap.sh test
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

bootstrap:
	@scripts/bootstrap.sh test

bench:
	@scripts/bootstrap.sh run
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf .venv .tools .pytest_cache
