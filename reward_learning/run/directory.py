"""A run directory's contract: which files a run (or a sweep) writes, and who may use it.

``--overwrite`` removes only the entries named here, and only from a directory that holds
nothing else: a folder with a file the package did not write is refused, with what is in it.
One process at a time uses a run directory: :class:`RunLock` holds an exclusive ``flock`` on
``run.lock`` for as long as the run trains.
"""

from __future__ import annotations

import errno
import fcntl
import fnmatch
import os
import shutil
from pathlib import Path
from typing import IO

from reward_learning.errors import UserInputError

LOCK = "run.lock"

RUN_ENTRIES: tuple[str, ...] = (
    "config.json", "metrics.csv", "summary.json", "summary.json.partial", "success.png",
    "queries.png", "goals.png", "goals.npz", "policy.mp4", "labels.sqlite", "labels.sqlite-*",
    "latest", "latest.partial", "checkpoint-*", "logs", "eval", "labels_export", LOCK,
)  # fmt: skip
"""What ``train`` writes in its run directory (``fnmatch`` patterns of top-level names)."""

SWEEP_ENTRIES: tuple[str, ...] = ("sweep.md", "sweep.csv", "curves.png", "tune", "runs")
"""What ``sweep`` writes in its directory; each entry of ``runs/`` is a run directory."""


def foreign_entries(folder: Path, owned: tuple[str, ...]) -> list[str]:
    """Top-level names in ``folder`` that match none of ``owned`` (a sweep's runs: recursively)."""
    foreign = []
    for entry in sorted(folder.iterdir()):
        if not any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in owned):
            foreign.append(entry.name + ("/" if entry.is_dir() else ""))
        elif owned is SWEEP_ENTRIES and entry.name == "runs" and entry.is_dir():
            for run in sorted(entry.iterdir()):
                if not run.is_dir():
                    foreign.append(f"runs/{run.name}")
                else:
                    foreign += [f"runs/{run.name}/{n}" for n in foreign_entries(run, RUN_ENTRIES)]
    return foreign


def check_new_dir(out: Path, owned: tuple[str, ...], overwrite: bool, what: str) -> None:
    """Refuse, in one line and before any file changes, an ``--out`` a new run cannot take.

    Args:
        out: the directory asked for.
        owned: the entries a run (``RUN_ENTRIES``) or sweep (``SWEEP_ENTRIES``) writes.
        overwrite: the user asked to start over in a directory holding a run.
        what: ``"run"`` or ``"sweep"``, for the messages.

    Raises:
        UserInputError: ``out`` is a file, lies under a file, cannot be written, holds files
            this package did not write, or holds a run and ``overwrite`` is unset.
    """
    existing = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise UserInputError(f"--out {out}: {existing} is a file: name a directory for the {what}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserInputError(f"--out {out}: {existing} is not writable: name another --out")
    if existing != out or not any(out.iterdir()):
        return
    foreign = foreign_entries(out, owned)
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise UserInputError(
            f"--out {out} holds files a {what} did not write ({shown}): name another --out "
            "(--overwrite removes only a run's own files)"
        )
    if not overwrite:
        resume = "train --resume" if what == "run" else "sweep (the same command)"
        raise UserInputError(
            f"{out} already holds a {what}: continue it with `reward-learning {resume} {out}`, "
            "start it over with --overwrite, or name another --out"
        )


def clear(out: Path, owned: tuple[str, ...]) -> None:
    """Remove what a run or sweep wrote in ``out`` (its lock stays); call after every check."""
    for entry in out.iterdir():
        if entry.name == LOCK or not any(fnmatch.fnmatchcase(entry.name, p) for p in owned):
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def create(out: Path) -> None:
    """Create a run's directory (its parents too), or one line saying why it cannot be.

    Raises:
        UserInputError: a read-only filesystem, no permission, a file in the way.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise UserInputError(
            f"--out {out}: cannot create it ({error.strerror}): name another --out"
        ) from error


class RunLock:
    """An exclusive lock on a run directory for one process, released by :meth:`release`.

    Raises:
        UserInputError: another process holds it (its PID named), or it cannot be written.
    """

    def __init__(self, folder: Path) -> None:
        path = folder / LOCK
        try:
            self._file: IO[str] | None = open(path, "a+")  # noqa: SIM115 - held until release
        except OSError as error:
            raise UserInputError(
                f"{folder}: cannot write its lock file ({error.strerror})"
            ) from error
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "unknown"
            self._file.close()
            raise UserInputError(
                f"{folder} is in use by process {holder}: wait for it to end or stop it, "
                "or name another --out"
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def release(self) -> None:
        """Let another process use the directory (closing the file drops the lock)."""
        if self._file is not None:
            self._file.close()
            self._file = None
