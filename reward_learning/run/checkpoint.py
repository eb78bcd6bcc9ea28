"""Checkpoints a run resumes from, written atomically, in formats that load without running code.

A checkpoint is a directory ``checkpoint-<step>/`` in the run directory:

* ``learner.pt``: the policy's and critics' weights, their optimizers and the entropy
  coefficient, as tensors (``torch.load(..., weights_only=True)``);
* ``replay.npz``: the replay buffer's arrays, frame keys included (``allow_pickle=False``);
* ``frames.npy``: the frame store; ``classifier.pt`` (learned rewards only);
* ``state.json``: counters and random-generator states.

It is written under a ``.partial`` name, renamed when complete, and then named in the file
``latest`` (replaced atomically); older checkpoints are removed after that but the latest of an earlier step (a damaged latest
checkpoint leaves one to fall back to). The same step saved
again alternates between ``checkpoint-<step>`` and ``checkpoint-<step>-again``, so the one
``latest`` names is never removed before the new one is whole. A process killed
at any moment leaves ``latest`` naming a whole checkpoint. SB3's own ``save`` and
``save_replay_buffer`` are not used: they write cloudpickle and pickle, which run code when a
shared run directory is loaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.buffers import DictReplayBuffer
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import VecNormalize

from reward_learning.errors import DISK_FULL, UserInputError
from reward_learning.learner.algorithms import obs_rms

LATEST = "latest"
PREFIX = "checkpoint-"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary name: the old file or the new, never half."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def learner_state(model: Any) -> dict[str, Any]:
    """Weights, optimizer states and entropy coefficient of a SAC or TQC model, as tensors.

    Reads the ``actor``, ``critic``, ``log_ent_coef`` and ``ent_coef_optimizer`` attributes that
    SAC and TQC both expose.
    """
    state: dict[str, Any] = {
        "torch_rng": torch.get_rng_state(),
        "policy": model.policy.state_dict(),
        "actor_optimizer": model.actor.optimizer.state_dict(),
        "critic_optimizer": model.critic.optimizer.state_dict(),
    }
    if getattr(model, "ent_coef_optimizer", None) is not None:
        state["log_ent_coef"] = model.log_ent_coef.detach().clone()
        state["ent_coef_optimizer"] = model.ent_coef_optimizer.state_dict()
    return state


def load_learner_state(model: Any, path: Path) -> None:
    """Put a :func:`learner_state` saved at ``path`` into a model built from the same config."""
    state = torch.load(path, map_location=model.device, weights_only=True)
    torch.set_rng_state(state["torch_rng"].cpu())
    model.policy.load_state_dict(state["policy"])
    model.actor.optimizer.load_state_dict(state["actor_optimizer"])
    model.critic.optimizer.load_state_dict(state["critic_optimizer"])
    if "log_ent_coef" in state:
        with torch.no_grad():
            model.log_ent_coef.copy_(state["log_ent_coef"])
        model.ent_coef_optimizer.load_state_dict(state["ent_coef_optimizer"])


_BUFFER_ARRAYS = ("actions", "rewards", "dones", "timeouts")  # SB3's, beside observations


def numpy_global_state() -> list[Any]:
    """NumPy's global random state (SB3 samples replay batches from it), JSON-able."""
    name, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    return [name, np.asarray(keys).tolist(), position, has_gauss, cached]


def set_numpy_global_state(state: list[Any]) -> None:
    """Restore :func:`numpy_global_state`."""
    name, keys, position, has_gauss, cached = state
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, cached))


def buffer_arrays(buffer: Any) -> dict[str, np.ndarray]:
    """The filled part of a frame-keyed SB3 replay buffer (``frames.FrameKeysMixin``), by name."""
    filled = buffer.buffer_size if buffer.full else buffer.pos
    names = [*_BUFFER_ARRAYS, *buffer.key_arrays]
    arrays = {name: getattr(buffer, name)[:filled] for name in names}
    for side in ("observations", "next_observations"):
        stored = getattr(buffer, side)
        if isinstance(buffer, DictReplayBuffer):
            arrays.update({f"{side}.{key}": a[:filled] for key, a in stored.items()})
        else:
            arrays[side] = stored[:filled]
    arrays["position"] = np.array([buffer.pos, int(buffer.full)])
    return arrays


def load_buffer_arrays(buffer: Any, arrays: Any) -> None:
    """Fill an empty buffer of the same shape from :func:`buffer_arrays`."""
    for name in arrays.files:
        if name == "position":
            continue
        side, _, key = name.partition(".")
        target = getattr(buffer, side)[key] if key else getattr(buffer, side)
        values = arrays[name]
        target[: len(values)] = values
    buffer.pos, full = (int(x) for x in arrays["position"])
    buffer.full = bool(full)


def save(
    run_dir: Path,
    step: int,
    model: OffPolicyAlgorithm,
    files: dict[str, Callable[[Path], None]],
    state: dict[str, Any],
) -> Path:
    """Write a checkpoint of ``step`` and make it the latest; returns its directory.

    Args:
        run_dir: the run directory.
        step: env steps done.
        model: the policy's learner (its replay buffer included).
        files: more files by name, each with the function that writes it (frame store,
            classifier, observation statistics).
        state: JSON-able counters and generator states.

    Raises:
        UserInputError: the disk is full; the previous checkpoint is left whole.
    """
    final = run_dir / f"{PREFIX}{step}"
    pointer = run_dir / LATEST
    if pointer.exists() and pointer.read_text().strip() == final.name:
        final = run_dir / f"{PREFIX}{step}-again"  # the same step again: `latest` keeps its own
    partial = run_dir / f"{final.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir()
        torch.save(learner_state(model), partial / "learner.pt")
        np.savez(partial / "replay.npz", **buffer_arrays(model.replay_buffer))  # type: ignore[arg-type]
        for name, write in files.items():
            write(partial / name)
        (partial / "state.json").write_text(json.dumps({"step": step, **state}, indent=1))
        for path in partial.iterdir():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        shutil.rmtree(final, ignore_errors=True)  # never `latest`: it names the other of the two
        os.replace(partial, final)
        atomic_write(run_dir / LATEST, final.name.encode())
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        if error.errno in DISK_FULL:
            previous = latest(run_dir)
            needed = sum(p.stat().st_size for p in previous.iterdir()) if previous else 0
            raise UserInputError(
                f"no space left on the device of {run_dir} for a checkpoint"
                f"{f' (about {needed / 2**20:.0f} MB)' if needed else ''}: free some space, "
                f"then resume with `reward-learning train --resume {run_dir}`"
            ) from error
        raise
    earlier = [p for p in run_dir.glob(f"{PREFIX}*") if p != final]
    fallback = max(
        (p for p in earlier if p.is_dir() and not p.name.endswith(".partial") and _step(p) < step),
        key=_step, default=None,
    )  # fmt: skip
    for old in earlier:
        if old != fallback:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _step(checkpoint: Path) -> int:
    """The step in a checkpoint's name: ``checkpoint-600`` or ``checkpoint-600-again``."""
    return int(checkpoint.name.removeprefix(PREFIX).split("-")[0].split(".")[0])


def latest(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run directory, or ``None`` before the first."""
    pointer = run_dir / LATEST
    if not pointer.exists():
        return None
    path = run_dir / pointer.read_text().strip()
    if not path.name.startswith(PREFIX) or path.parent != run_dir or not path.is_dir():
        raise UserInputError(f"{pointer} names no checkpoint of this run; the run is damaged")
    return path


def read_state(checkpoint: Path) -> dict[str, Any]:
    """``state.json`` of a checkpoint."""
    state: dict[str, Any] = json.loads((checkpoint / "state.json").read_text())
    return state


DAMAGE: tuple[type[BaseException], ...] = (
    OSError, EOFError, RuntimeError, ValueError, KeyError, zipfile.BadZipFile, pickle.UnpicklingError,
)  # fmt: skip
"""What reading a truncated or altered checkpoint file raises (torch, NumPy, json)."""


@contextlib.contextmanager
def reading(checkpoint: Path) -> Iterator[None]:
    """Turn a damaged checkpoint file, while reading ``checkpoint``, into one line.

    Raises:
        UserInputError: names the checkpoint and the file, and the older checkpoint of the run
            to fall back to, if there is one.
    """
    try:
        yield
    except UserInputError:
        raise
    except DAMAGE as error:
        if isinstance(error, OSError) and error.errno in DISK_FULL:
            raise
        older = sorted(
            (p for p in checkpoint.parent.glob(f"{PREFIX}*") if p.is_dir() and p != checkpoint
             and not p.name.endswith(".partial")),
            key=_step,
        )  # fmt: skip
        fallback = (
            f"fall back to {older[-1].name} with `echo {older[-1].name} > {checkpoint.parent / LATEST}`, "
            "then resume"
            if older else "no earlier checkpoint is kept: start the run over"
        )  # fmt: skip
        what = getattr(error, "filename", None) or type(error).__name__
        raise UserInputError(
            f"checkpoint {checkpoint.name} of {checkpoint.parent} is damaged ({what}: "
            f"{str(error).splitlines()[0][:120] if str(error) else 'unreadable'}): {fallback}"
        ) from error


def save_obs_stats(venv: VecNormalize, path: Path) -> None:
    """The running observation statistics of ``venv`` as ``.npz`` (mean, var, count)."""
    stats = obs_rms(venv)
    np.savez(path, mean=stats.mean, var=stats.var, count=np.array(stats.count))


def load_obs_stats(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """``(mean, var, count)`` written by :func:`save_obs_stats`."""
    with np.load(path, allow_pickle=False) as arrays:
        return arrays["mean"], arrays["var"], float(arrays["count"])
