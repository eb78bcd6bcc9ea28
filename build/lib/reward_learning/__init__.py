"""reward_learning: robot rewards learned from goal images and a few success queries."""

__version__ = "0.1.0"
