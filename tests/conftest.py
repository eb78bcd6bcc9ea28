import os

# Before anything imports mujoco: headless rendering (DESIGN.md).
os.environ.setdefault("MUJOCO_GL", "egl")

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)
