"""Train SAC on Drape from 20 goal images and a simulated oracle (VICE-RAQ), then evaluate.

50k env steps by default (the paper's real-robot drape needed 25k steps and 50 queries).
Usage: python scripts/train_drape.py [any `reward-learning train` flag, e.g. --steps 5000]
"""

import sys

from reward_learning.cli import main

DEFAULTS = ["--out", "runs/train_drape", "--steps", "50000", "--label-budget", "50"]

if __name__ == "__main__":
    sys.exit(main(["train", "drape", *DEFAULTS, *sys.argv[1:]]))
