# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
# The first use creates .venv and installs the package into it.

VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch (a few hundred MB); on a machine with an NVIDIA driver take PyPI's default CUDA build.
TORCH ?= $(if $(shell command -v nvidia-smi 2>/dev/null),torch,torch==2.13.0)
export MUJOCO_GL ?= egl

.PHONY: install demo test test-suites lint mnist benchmarks clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev,sweep]" --config-settings editable_mode=compat
	touch $@

demo: install
	$(VENV)/bin/reward-learning train push --out runs/demo --overwrite --threads 2

mnist: install
	$(VENV)/bin/reward-learning mnist --out runs/mnist

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q -n 2

# The benchmark suites' extras beside this package, in a venv of their own (MuJoCo 3.3.0).
SUITES_VENV ?= .venv-suites
test-suites:
	python3 -m venv $(SUITES_VENV)
	$(SUITES_VENV)/bin/pip install --quiet "$(TORCH)"
	$(SUITES_VENV)/bin/pip install --quiet ".[metaworld,robotics,dev]"
	$(SUITES_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/tasks/test_suites.py

benchmarks: install
	$(PY) -m benchmarks.env_speed
	$(PY) -m benchmarks.sac_update
	$(PY) -m benchmarks.drape_stability
	$(PY) -m benchmarks.mnist_label_efficiency
	$(PY) -m benchmarks.push_dense_reference
	$(PY) -m benchmarks.push_learning
	$(PY) -m benchmarks.drape_learning
	$(PY) -m benchmarks.pixel_update --write
	$(PY) -m benchmarks.pixel_learning --write

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
