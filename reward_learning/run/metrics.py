"""A run's ``metrics.csv`` (a row per evaluation) and its plot, ``success.png``."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from reward_learning.run import checkpoint
from reward_learning.run.figures import figure


def keep_metrics_until(path: Path, step: int) -> None:
    """Drop the ``metrics.csv`` rows after ``step`` (written after the checkpoint resumed from)."""
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if float(line.split(",", 1)[0]) <= step]
    checkpoint.atomic_write(path, "".join(kept).encode())


def append_metrics(path: Path, row: dict[str, float]) -> None:
    """One row of ``metrics.csv`` (the header first when the file is new).

    A file written by an older version, with fewer columns, is rewritten first with the new
    columns left empty in its rows.
    """
    if path.exists():
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            earlier = list(reader)
            header = reader.fieldnames or []
        if header != list(row):
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=list(row), restval="")
            writer.writeheader()
            writer.writerows(earlier)
            checkpoint.atomic_write(path, text.getvalue().encode())
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def read_metrics(path: Path) -> list[dict[str, float]]:
    """Rows of ``metrics.csv`` as floats (NaN where a column is empty); empty when none yet."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [
            {k: float(v) if v != "" else math.nan for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def plot_metrics(run_dir: Path, success_source: str = "ground truth") -> Path | None:
    """``success.png``: success rate and labels used vs env steps.

    The success rate is ground truth, or the classifier's verdict where the env reports none.
    """
    rows = read_metrics(run_dir / "metrics.csv")
    if not rows:
        return None
    steps = [r["step"] for r in rows]
    path = run_dir / "success.png"
    with figure(path, 1, 2, figsize=(10, 4)) as (fig, (ax, ax_return)):
        ax.plot(steps, [r["success_rate"] for r in rows], "o-", label="success rate")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("env steps")
        ax.set_ylabel(
            "ground-truth success rate"
            if success_source == "ground truth"
            else "success rate (the classifier's verdict)"
        )
        labels_ax = ax.twinx()
        labels_ax.plot(
            steps, [r["labels"] for r in rows], "--", color="tab:gray", label="labels used"
        )
        labels_ax.set_ylabel("oracle labels used")
        ax.grid(alpha=0.3)
        ax_return.plot(steps, [r["eval_return"] for r in rows], "o-", color="tab:green")
        ax_return.set_xlabel("env steps")
        ax_return.set_ylabel("eval return (env reward = success per step)")
        ax_return.grid(alpha=0.3)
        fig.suptitle(run_dir.name)
    return path
