import os

# Before anything imports mujoco: headless rendering (docs/ARCHITECTURE.md).
os.environ.setdefault("MUJOCO_GL", "egl")

import pytest
import torch

# `make test` runs two pytest workers (pytest-xdist), one per core: one torch thread each, since
# two processes at torch's default of one thread per core collapse (benchmarks/README.md).
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)

# A training run small enough for a test: a few seconds on 2 cores.
TINY = dict(
    steps=300,
    learning_starts=100,
    eval_every=150,
    eval_episodes=2,
    queries_every=100,
    classifier_every=100,
    goals=4,
    progress=False,
    video=False,
    device="cpu",
)


def tiny_run(out, **settings):
    """A TrainingRun in ``out`` small enough for a test (``TINY``, then ``settings``)."""
    from reward_learning import agent, run_config

    return agent.TrainingRun(run_config.TrainConfig(out=str(out), **{**TINY, **settings}))


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)
