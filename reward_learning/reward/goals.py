"""Goal examples: images of success, rendered from the simulator or read from a folder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from reward_learning.errors import UserInputError
from reward_learning.tasks.make import make_env

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def render_goals(
    task: str, n: int, image_size: int, seed: int, progress: bool = True, env_kwargs: str = ""
) -> np.ndarray:
    """Render ``n`` random success states of ``task``: uint8 ``(n, image_size, image_size, 3)``.

    The task's env must have ``set_random_success_state(rng)`` (the bundled ones do).
    """
    env = make_env(task, "image", image_size, env_kwargs)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    pose = env.get_wrapper_attr("set_random_success_state")
    try:
        images = [
            pose(rng)
            for _ in tqdm(range(n), desc=f"goal images ({task})", leave=False, disable=not progress)
        ]
    finally:
        env.close()
    return np.stack(images)


def save_goals(images: np.ndarray, out: str | Path) -> Path:
    """Write ``goal_000.png`` ... and ``goals.npz`` (key ``images``) to ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        cv2.imwrite(str(out / f"goal_{i:03d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    np.savez_compressed(out / "goals.npz", images=images)
    return out


def _read_rgb(path: Path, image_size: int) -> np.ndarray:
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise UserInputError(f"goal image {path} is corrupt or not an image")
    if raw.ndim == 2 or raw.shape[2] == 1:
        raise UserInputError(f"goal image {path} is grayscale: goal images must be RGB")
    if raw.dtype != np.uint8:
        raise UserInputError(
            f"goal image {path} has {raw.dtype.itemsize * 8}-bit channels: save it as 8-bit RGB"
        )
    height, width = raw.shape[:2]
    if min(height, width) < image_size / 4:
        raise UserInputError(
            f"goal image {path} is {width}x{height}, far below the {image_size}x{image_size} "
            "frames it would be stretched to: use images at least a quarter of --image-size"
        )
    if abs(height - width) > 0.05 * max(height, width):
        raise UserInputError(
            f"goal image {path} is {width}x{height}: expected a square image (crop it first)"
        )
    rgb = cv2.cvtColor(raw[..., :3], cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (image_size, image_size), interpolation=cv2.INTER_AREA)


def load_goal_images(folder: str | Path, image_size: int) -> np.ndarray:
    """Read every PNG/JPEG in ``folder``, resized to ``image_size``: uint8 ``(N, S, S, 3)``.

    Raises:
        UserInputError: the folder is missing or has no images, or an image is corrupt,
            grayscale, far from square or far smaller than ``image_size``.
    """
    folder = Path(folder)
    if folder.is_file():
        raise UserInputError(
            f"--goal-dir {folder} is a file: name the folder that holds the images"
        )
    if not folder.is_dir():
        raise UserInputError(f"goal folder {folder} does not exist")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise UserInputError(f"goal folder {folder} has no PNG or JPEG images")
    return np.stack([_read_rgb(p, image_size) for p in paths])
