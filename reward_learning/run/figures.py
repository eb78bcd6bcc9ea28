"""Figures written to PNG files, without a display (matplotlib's Agg backend)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def figure(path: Path, *grid: int, dpi: int = 110, **kwargs: Any) -> Iterator[tuple[Any, Any]]:
    """``(fig, axes)`` of ``plt.subplots(*grid, **kwargs)``, laid out, saved to ``path`` and closed.

    matplotlib is imported here, on the first plot, so that commands that draw nothing never pay
    for it; Agg draws without a display.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(*grid, **kwargs)
    try:
        yield fig, axes
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)
