"""metrics.csv across versions."""

import numpy as np

from reward_learning.run import metrics


def test_metrics_of_an_older_run_gain_the_new_columns_empty(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,success_rate,labels\n100,0.5,2\n")
    metrics.append_metrics(path, {"step": 200, "success_rate": 1.0, "labels": 3, "pending": 1})
    old, new = metrics.read_metrics(path)
    assert (old["labels"], new["pending"]) == (2, 1) and np.isnan(old["pending"])
