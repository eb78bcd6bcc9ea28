"""Train SAC on Push from 10 goal images and a simulated oracle (VICE-RAQ), then evaluate.

Usage: python scripts/train_push.py [any `reward-learning train` flag, e.g. --steps 5000]
"""

import sys

from reward_learning.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "push", "--out", "runs/train_push", *sys.argv[1:]]))
