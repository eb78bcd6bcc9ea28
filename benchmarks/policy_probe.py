"""Where a run's policy leaves the puck: distances at step 15 and at the episode's end.

Usage: python -m benchmarks.policy_probe RUN_DIR [--episodes 20]
Loads the run's latest checkpoint (policy, observation statistics, classifier), plays fresh
Push episodes deterministically and prints the puck-to-target distance at step 15 and at the
end, the share ending within 5 cm, the classifier's log p of the last frame and the last puck
position (benchmarks/README.md, "Where the steps go").
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

from envs.push import SUCCESS_RADIUS, TARGET
from reward_learning.learner.algorithms import normalized_like_training
from reward_learning.reward.classifier import SuccessClassifier
from reward_learning.run.evaluation import load_policy
from reward_learning.tasks.make import make_env, make_policy_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args()
    config, saved, model, stats = load_policy(args.run_dir)
    policy_env = normalized_like_training(
        make_policy_env("push", "state", config.image_size), config, stats
    )
    classifier = SuccessClassifier(seed=config.seed, device="cpu")
    classifier.load(saved / "classifier.pt")
    env = make_env("push", obs_mode="dict", image_size=config.image_size)
    push = env.unwrapped
    rows = []
    for episode in range(args.episodes):
        obs, _ = policy_env.reset(seed=1000 + episode)
        env.reset(seed=1000 + episode)
        for step in range(100):
            action, _ = model.predict(obs, deterministic=True)
            obs, *_ = policy_env.step(action)
            image = env.step(action)[0]["image"]
            if step == 15:
                middle = np.linalg.norm(push.puck_xy - TARGET)  # type: ignore[attr-defined]
        end = np.linalg.norm(push.puck_xy - TARGET)  # type: ignore[attr-defined]
        log_p = float(-np.logaddexp(0, -classifier.logit(image[None]))[0])
        rows.append((middle, end, log_p))
    middle, end, log_p = np.array(rows).T
    print(
        f"{args.run_dir} ({saved.name}): puck-target at step 15: median {np.median(middle) * 100:.1f} cm; "
        f"at the end: median {np.median(end) * 100:.1f} cm, within {SUCCESS_RADIUS * 100:g} cm "
        f"{np.mean(end < SUCCESS_RADIUS):.0%}; log p of the last frame: median {np.median(log_p):.2f}; "
        f"last puck at {push.puck_xy.round(3)} (target {TARGET})"  # type: ignore[attr-defined]
    )


if __name__ == "__main__":
    main()
