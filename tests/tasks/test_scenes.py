"""Scene states: a queried frame drawn again large, as it was."""

import mujoco
import numpy as np
import pytest

from reward_learning.tasks.make import make_env
from reward_learning.tasks.scenes import SceneView, scene_state


@pytest.mark.parametrize("task", ["push", "drape"])
def test_a_stored_scene_state_draws_the_same_view_again(task):
    """What a person is shown for a queried frame is the moment the frame was taken."""
    env = make_env(task, image_size=96)
    env.reset(seed=3)
    for _ in range(8):
        env.step(env.action_space.sample())
    # MuJoCo draws a step's frame from the positions before its last integration substep; the
    # env's own render of the stored state is that of the state's positions, brought up to date.
    mujoco.mj_forward(env.unwrapped.model, env.unwrapped.data)
    state, expected = scene_state(env), env.unwrapped.render_image()
    view = SceneView(task, size=96)
    np.testing.assert_array_equal(view(state), expected)
    env.reset(seed=4)
    assert not np.array_equal(view(scene_state(env)), expected)
    env.close()
    view.close()


def test_a_gymnasium_mujoco_env_is_posed_again_from_its_scene_state():
    """Any MuJoCo env: the same bodies in the same places (its free camera follows its own
    history, so pictures are compared for bundled tasks only)."""
    env = make_env("Pusher-v5", image_size=48)
    env.reset(seed=3)
    for _ in range(8):
        env.step(env.action_space.sample())
    source = env.unwrapped
    mujoco.mj_forward(source.model, source.data)
    view = SceneView("Pusher-v5", size=96)
    assert view(scene_state(env)).shape == (96, 96, 3)
    posed = view._env.unwrapped
    np.testing.assert_allclose(posed.data.geom_xpos, source.data.geom_xpos, atol=1e-6)
    view.close()
