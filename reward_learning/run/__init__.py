"""A training run and many: settings, run directory, checkpoints, evaluation, metrics, sweeps."""
