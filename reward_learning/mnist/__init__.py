"""The MNIST demo: pool-based active learning on the uncertainty core."""
