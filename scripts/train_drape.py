"""Train SAC on Drape from 20 goal images and a simulated oracle (VICE-RAQ), then evaluate.

Drape's own defaults (``run.settings.TASK_SETTINGS``): 50k env steps, 20 goal images and SB3's
critics, otherwise Push's settings (SAC learning rate 1e-3, two gradient steps per env step,
normalized observations); 40 labels, as benchmarked (the paper's real-robot drape needed 25k
steps and 50 queries).
Usage: python scripts/train_drape.py [any `reward-learning train` flag, e.g. --steps 5000]
"""

import sys

from reward_learning.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "drape", "--out", "runs/train_drape", *sys.argv[1:]]))
