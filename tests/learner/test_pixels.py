"""Pixel policies: frames and proprioception only, frames stored once, DrQ's encoder training."""

import pickle

import numpy as np
import pytest
import torch

from reward_learning.errors import UserInputError
from reward_learning.learner.pixels import PixelEncoder, random_shift
from reward_learning.run import checkpoint, evaluation, settings, training
from reward_learning.tasks.views import PIXELS, PROPRIO, STACK
from tests.conftest import pixel_run
from tests.run.test_checkpoint import Payload


def test_a_batch_reads_its_stacks_from_the_frame_store(learned):
    buffer = learned.model.replay_buffer
    shift, buffer.shift = buffer.shift, 0  # unshifted, the batch must be the stored frames
    np.random.seed(3)
    batch = buffer.sample(8)
    buffer.shift = shift
    np.random.seed(3)
    slots = np.random.randint(0, buffer.pos, size=8)
    keys = buffer.next_obs_keys[slots, 0]
    frames = learned.frames.get(keys.reshape(-1)).reshape(8, STACK, 48, 48, 3)
    expected = frames.transpose(0, 1, 4, 2, 3).reshape(8, 3 * STACK, 48, 48)
    np.testing.assert_array_equal(batch.next_observations[PIXELS].numpy(), expected)
    assert (
        buffer.obs_keys[1 : buffer.pos, 0, -1] <= buffer.next_obs_keys[1 : buffer.pos, 0, -1]
    ).all()


def test_random_shift_moves_each_image_within_the_pad():
    image = torch.zeros(1, 1, 12, 12)
    image[0, 0, 6, 6] = 1.0
    shifted = random_shift(image.repeat(64, 1, 1, 1), pad=2)
    rows, cols = torch.nonzero(shifted[:, 0] == 1.0, as_tuple=True)[1:]
    assert len(rows) == 64 and (rows - 6).abs().max() <= 2 and (cols - 6).abs().max() <= 2
    assert len({(int(r), int(c)) for r, c in zip(rows, cols, strict=True)}) > 5


def test_only_the_critics_loss_trains_the_encoder(learned):
    policy = learned.model.policy
    encoder = policy.critic.features_extractor
    assert isinstance(encoder, PixelEncoder)
    assert policy.critic_target.features_extractor is not encoder
    critic_params = {id(p) for p in policy.critic.optimizer.param_groups[0]["params"]}
    actor_params = {id(p) for p in policy.actor.optimizer.param_groups[0]["params"]}
    encoder_params = {id(p) for p in encoder.parameters()}
    assert encoder_params <= critic_params and not encoder_params & actor_params
    before = [p.detach().clone() for p in encoder.parameters()]
    actor_before = [p.detach().clone() for p in policy.actor.parameters()]
    learned.model.train(gradient_steps=1, batch_size=16)
    assert any(not torch.equal(a, b) for a, b in zip(before, encoder.parameters(), strict=True))
    assert any(
        not torch.equal(a, b) for a, b in zip(actor_before, policy.actor.parameters(), strict=True)
    )


@pytest.mark.slow
def test_a_pixel_run_resumes_and_evaluates_from_its_checkpoint(tmp_path):
    out = tmp_path / "run"
    pixel_run(out, steps=150).train()
    saved = checkpoint.latest(out)
    with np.load(saved / "replay.npz", allow_pickle=False) as arrays:
        assert "obs_keys" in arrays.files and not any("pixels" in n for n in arrays.files)
    resumed = training.TrainingRun(settings.load_run_config(out), resume=True)
    assert resumed.model.num_timesteps == 150 and resumed.frames.size > 150
    np.testing.assert_array_equal(
        resumed.model.replay_buffer.next_obs_keys[:150], np.asarray(
            np.load(saved / "replay.npz")["next_obs_keys"])
    )  # fmt: skip
    resumed.config.steps = 300
    assert resumed.train()["steps"] == 300
    result = evaluation.evaluate(out, episodes=1, video=True)
    assert (out / "policy.mp4").stat().st_size > 0 and result["episodes"] == 1
    # a pickle planted where the frame-key arrays live is refused, never run
    marker = tmp_path / "pwned"
    latest = checkpoint.latest(out)
    (latest / "replay.npz").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(UserInputError, match="is damaged"):
        training.TrainingRun(settings.load_run_config(out), resume=True)
    assert not marker.exists()


@pytest.mark.slow
def test_a_gymnasium_env_trains_from_pixels_with_the_proprioception_its_user_names(tmp_path):
    from reward_learning.cli import main

    env = "tests.success_envs:SuccessReacher-v0"
    flags = ["--steps", "150", "--learning-starts", "100", "--eval-every", "150",
             "--eval-episodes", "1", "--queries-every", "100", "--classifier-every", "100",
             "--goals", "4", "--no-progress", "--no-video", "--device", "cpu"]  # fmt: skip
    out = tmp_path / "run"
    argv = ["train", "--env", env, "--policy-input", "pixels+proprio", "--out", str(out), *flags]
    assert main(argv) == 2 and not out.exists()  # Reacher declares no proprioception
    assert main([*argv, "--proprio", "0-3,6,7"]) == 0
    run = training.TrainingRun(settings.load_run_config(out), resume=True)
    assert run.env.observation_space[PROPRIO].shape == (6,)
    run.lock.release()
