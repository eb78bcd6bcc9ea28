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
    success_check_folds=0,
    progress=False,
    video=False,
    device="cpu",
)


def tiny_run(out, **values):
    """A TrainingRun in ``out`` small enough for a test (``TINY``, then ``values``)."""
    from reward_learning.run import settings, training

    return training.TrainingRun(settings.TrainConfig(out=str(out), **{**TINY, **values}))


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)


def reset_images(n, seed=0):
    """Push frames at 48 px, from resets and a few random steps: failures, mostly."""
    import numpy as np

    from reward_learning.tasks.make import make_env

    env = make_env("push", obs_mode="image", image_size=48)
    images = []
    rng = np.random.default_rng(seed)
    for i in range(n):
        obs, _ = env.reset(seed=seed + i)
        for _ in range(rng.integers(0, 10)):
            obs, *_ = env.step(env.action_space.sample())
        images.append(obs)
    env.close()
    return np.stack(images)


def stored_frames(run):
    """The frames behind a run's stored transitions, by their keys."""
    return run.frames.get(run.model.replay_buffer.stored_frame_keys())


def pixel_run(out, policy_input="pixels+proprio", **overrides):
    """A TINY Push run from pixels."""
    from reward_learning.run import settings, training

    config = settings.task_config(
        "push", policy_input=policy_input, out=str(out), **{**TINY, **overrides}
    )
    return training.TrainingRun(config)


@pytest.fixture(scope="module", params=["pixels", "pixels+proprio"])
def learned(request, tmp_path_factory):
    """A pixel run 150 env steps in (50 gradient steps), shared by the tests that only read it."""
    run = pixel_run(tmp_path_factory.mktemp(request.param.replace("+", "_")), request.param)
    run.model.learn(150)
    return run
