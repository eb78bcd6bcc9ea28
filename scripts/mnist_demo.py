"""MNIST pool-based active learning: BALD and least confidence against random.

Usage: python scripts/mnist_demo.py [any `reward-learning mnist` flag, e.g. --oracle human]
"""

import sys

from reward_learning.cli import main

if __name__ == "__main__":
    sys.exit(
        main(
            [
                "mnist",
                "--strategy",
                "bald",
                "least-confident",
                "--out",
                "runs/mnist_demo",
                *sys.argv[1:],
            ]
        )
    )
