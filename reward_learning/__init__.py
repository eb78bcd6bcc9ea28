"""reward_learning: robot rewards learned from goal images and a few success queries."""

# Registers the bundled tasks and sets MUJOCO_GL for a headless machine before any module of
# this package (or Gymnasium's MuJoCo envs) loads mujoco.
import envs  # noqa: F401

__version__ = "0.1.0"
