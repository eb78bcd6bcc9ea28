"""labels review: flipping an answer, and a resumed run training on the correction."""

import numpy as np

from tests.conftest import TINY
from tests.questions.conftest import press


def test_review_flips_an_answer_the_store_keeps_both_and_a_resumed_run_trains_on_it(
    display, tmp_path, capsys
):
    from reward_learning.cli import main
    from reward_learning.questions.labels import LabelStore
    from reward_learning.run import settings, training

    values = {**TINY, "steps": 200, "eval_every": 200, "queries_per_round": 2}
    config = settings.TrainConfig(reward="vice-raq", out=str(tmp_path / "run"), **values)
    training.TrainingRun(config).train()
    store = LabelStore(tmp_path / "run" / "labels.sqlite", "run")
    before = store.answers()
    assert len(before) == 2 and {a.label for a in before} == {0}  # random frames: failures
    thread = press("reward_learning: review", ["2", "q"])
    assert main(["labels", "review", str(tmp_path / "run")]) == 0
    thread.join()
    after = store.answers()
    assert [a.label for a in after] == [0, 1] and after[1].supersedes == before[1].id
    assert len(store.answers(include_skipped=True)) == 2
    assert store.db.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 3  # both rows kept
    assert main(["labels", "list", str(tmp_path / "run")]) == 0
    assert f"corrects {before[1].id}" in capsys.readouterr().out
    resumed = training.TrainingRun(settings.load_run_config(tmp_path / "run"), resume=True)
    assert len(resumed.data.positives) == 1 and len(resumed.data.negatives) == 1
    np.testing.assert_array_equal(next(iter(resumed.data.positives.values())), before[1].image)
