import os

# Before anything imports mujoco: headless rendering (DESIGN.md).
os.environ.setdefault("MUJOCO_GL", "egl")

import pytest
import torch

torch.set_num_threads(2)

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


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)
