"""Torch device choice, shared by every network in the package."""

from __future__ import annotations

import torch

from reward_learning.errors import UserInputError


def resolve_device(name: str = "auto") -> torch.device:
    """Return the torch device for ``name``: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``.

    Raises:
        UserInputError: not a device name, or ``"cuda"`` was asked for on a machine without it (no silent CPU fallback).
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise UserInputError(
            f"--device {name!r} is not a torch device: expected auto, cpu, cuda or cuda:N"
        ) from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserInputError(f"device {name!r} asked for, but torch sees no CUDA device; use cpu")
    return device


def inference_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """The dtype a network's forward passes compute in (training stays float32).

    ``precision``: ``float32``, ``bfloat16``, or ``auto``: bfloat16 where the device computes it
    natively (CUDA with bf16; a CPU with AVX512-BF16 or AMX), float32 elsewhere, where emulated
    bfloat16 would be slower than float32.
    """
    if precision != "auto":
        return getattr(torch, precision)
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
    else:
        # torch 2.13 has no public test for a CPU's native bfloat16; these are what its own
        # autocast tests ask.
        native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return torch.bfloat16 if native else torch.float32
