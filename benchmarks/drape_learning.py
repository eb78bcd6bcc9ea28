"""Drape: ground-truth success rate vs env steps and labels for every reward mode.

Usage: python -m benchmarks.drape_learning [--modes vice-raq classifier ...] [--seeds 0 1 2]
       [--steps 50000] [--parallel 2] [--extra label_budget=50 ...]
The same runner as benchmarks.push_learning; results go to benchmarks/README.md and
benchmarks/results/drape_learning.{csv,png}.
"""

from benchmarks.push_learning import main

if __name__ == "__main__":
    main(task="drape", default_steps=50_000, doc=__doc__)
