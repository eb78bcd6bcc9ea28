"""Torch device choice, shared by every network in the package."""

from __future__ import annotations

import torch

from reward_learning.errors import UserInputError


def resolve_device(name: str = "auto") -> torch.device:
    """Return the torch device for ``name``: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``.

    Raises:
        UserInputError: ``"cuda"`` was asked for on a machine without it (no silent CPU fallback).
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserInputError(f"device {name!r} asked for, but torch sees no CUDA device; use cpu")
    return device
