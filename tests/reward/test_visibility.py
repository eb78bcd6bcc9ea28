"""The success check: held-out goal images against the policy's frames, and its one line."""

import numpy as np

from reward_learning.reward.classifier import SuccessClassifier
from reward_learning.reward.visibility import Separation, auc, held_out_separation
from tests.conftest import tiny_run


def test_auc_counts_pairs_and_halves_ties():
    assert auc(np.array([2.0, 3.0]), np.array([1.0, 2.0])) == 0.875
    assert auc(np.array([1.0]), np.array([1.0])) == 0.5


def test_held_out_goal_images_stand_out_only_where_success_shows(rng):
    frames = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    alike = rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)  # the frames' distribution
    shown = alike.copy()
    shown[:, 8:24, 8:24] = 255  # a white square in every goal image

    def make():
        return SuccessClassifier(seed=0, device="cpu")

    visible = held_out_separation(shown, frames, make, steps=60, folds=5)
    hidden = held_out_separation(alike, frames, make, steps=60, folds=5)
    assert visible.auc > 0.95 and visible.folds == 5 and visible.goals == 10
    assert 0.25 < hidden.auc < 0.75


def test_the_report_says_what_to_change_only_when_success_does_not_show():
    fine = Separation(auc=0.99, folds=5, goals=10).report(48)
    assert fine.startswith("success check: ") and "99%" in fine and "--image-size" not in fine
    poor = Separation(auc=0.61, folds=5, goals=10).report(48)
    assert poor.startswith("warning: success may not show in 48x48 frames")
    assert "61%" in poor and "--env-kwargs" in poor and "camera close" in poor
    assert "goal as large as its success zone" in poor
    assert "more goal images" not in poor and "--image-size" not in poor  # measured not to help
    assert "\n" not in poor


def test_a_run_checks_once_after_its_first_classifier_update(tmp_path, capsys):
    run = tiny_run(tmp_path / "run", success_check_folds=2)
    run.train()
    lines = [line for line in capsys.readouterr().err.splitlines() if "held-out goal" in line]
    assert len(lines) == 1 and "over 2 folds of 4 goal images" in lines[0]
    assert (tmp_path / "run" / "goals.png").exists()


def test_the_check_leaves_the_runs_learning_as_it_was(tmp_path):
    import torch

    trained = []
    for folds in (0, 2):
        run = tiny_run(tmp_path / f"folds{folds}", success_check_folds=folds)
        run.train()
        trained.append(run.model.policy.state_dict())
    assert all(torch.equal(trained[0][k], trained[1][k]) for k in trained[0])
