"""What a policy sees: frames and its own effector, never the objects, in training and evaluation alike."""

import numpy as np

from reward_learning.tasks.make import make_env
from reward_learning.tasks.views import PIXELS, PROPRIO, STACK, policy_view


def test_a_pixel_policy_sees_frames_and_its_own_effector_never_the_puck(learned):
    obs = learned.env.reset(seed=0)[0]
    pusher, puck = learned.env.unwrapped.pusher_xy, learned.env.unwrapped.puck_xy
    proprio = learned.config.policy_input == "pixels+proprio"
    expected = [PIXELS, PROPRIO] if proprio else [PIXELS]
    assert sorted(obs) == expected and obs[PIXELS].shape == (3 * STACK, 48, 48)
    assert obs[PIXELS].dtype == np.uint8  # frames: no coordinate can hide in them
    if proprio:
        np.testing.assert_allclose(obs[PROPRIO], pusher, atol=1e-6)
        assert not np.isclose(obs[PROPRIO][:, None], puck).any()
    buffer = learned.model.replay_buffer
    assert sorted(buffer.observations) == expected[1:]  # no image stored twice, no puck
    batch = buffer.sample(16)
    assert sorted(batch.observations) == sorted(batch.next_observations) == expected
    if proprio:
        assert batch.observations[PROPRIO].shape == (16, 2)


def test_evaluation_env_shows_the_policy_what_training_showed_it():
    view = policy_view(make_env("push", "dict", 48), "pixels+proprio")
    obs, _ = view.reset(seed=0)
    assert obs[PIXELS].shape == (9, 48, 48) and obs[PROPRIO].shape == (2,)
    # the first frame fills the stack: three equal frames
    assert (obs[PIXELS][:3] == obs[PIXELS][6:]).all()
    moved, *_ = view.step(np.ones(2, np.float32))
    assert (moved[PIXELS][:6] == obs[PIXELS][3:]).all()
