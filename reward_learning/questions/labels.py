"""A durable label store on SQLite: every answer is committed before anyone uses it.

WAL journal with ``synchronous=FULL``: once :meth:`LabelStore.add` returns, the answer survives
a killed process or a power cut. A database written by another program, or a file that is
not SQLite at all, is refused and left untouched.
"""

from __future__ import annotations

import hashlib
import io
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from reward_learning.errors import UserInputError
from reward_learning.questions.oracles import Answer, Oracle, Query

APPLICATION_ID = 0x524C4142  # "RLAB": marks databases this package wrote
SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY,
    run TEXT NOT NULL,
    task TEXT NOT NULL,
    key INTEGER,
    image_hash TEXT NOT NULL,
    image_png BLOB NOT NULL,
    label INTEGER,            -- 1 success / 0 failure / a digit; NULL when skipped
    source TEXT NOT NULL,     -- human, simulated, goal
    probability REAL,         -- the model's P(success) (or top-class probability) when asked
    score REAL,               -- the informativeness score that chose the item
    created REAL NOT NULL,    -- unix time, seconds
    retracted INTEGER NOT NULL DEFAULT 0,
    supersedes INTEGER,       -- a correction: the id of the answer it replaces
    scene BLOB                -- .npy float32: the simulator state that draws the frame large
);
CREATE INDEX IF NOT EXISTS labels_hash ON labels (run, image_hash);
"""


class LabelStoreError(UserInputError):
    """The label database cannot be used; it is left as it was."""


class LabelCounts(NamedTuple):
    """The questions of a run as they stand (answers in force; corrections counted apart)."""

    answered: int
    pending: int
    skipped: int
    corrected: int


IN_FORCE = (
    "retracted = 0 AND id NOT IN"
    " (SELECT supersedes FROM labels WHERE supersedes IS NOT NULL AND retracted = 0)"
)
"""Rows neither taken back nor superseded by a correction."""


class StoredLabel(NamedTuple):
    """One answer as stored. ``image`` is uint8 ``(H, W, 3)`` or ``(H, W)``."""

    id: int
    run: str
    task: str
    key: int | None
    image: np.ndarray
    label: int | None
    source: str
    probability: float | None
    score: float | None
    created: float
    supersedes: int | None = None
    """For a correction: the id of the answer it replaces."""
    scene: np.ndarray | None = None
    """float32 ``(S,)``: the scene state behind a robot frame (:mod:`reward_learning.tasks.scenes`)."""


def image_hash(image: np.ndarray) -> str:
    """SHA-1 of the image's shape and bytes: the identity of a frame."""
    image = np.ascontiguousarray(image)
    return hashlib.sha1(str(image.shape).encode() + image.tobytes()).hexdigest()


def _png(image: np.ndarray) -> bytes:
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, buffer = cv2.imencode(".png", bgr)
    assert ok, "PNG encoding of a uint8 image cannot fail"
    return buffer.tobytes()


def _decode_png(data: bytes) -> np.ndarray | None:
    """The image in PNG bytes as stored (3-channel BGR turned RGB), or ``None`` if unreadable."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is not None and image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image


def _npy(array: np.ndarray | None) -> bytes | None:
    if array is None:
        return None
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def _unnpy(data: bytes | None) -> np.ndarray | None:
    return None if data is None else np.load(io.BytesIO(data), allow_pickle=False)


def _unpng(data: bytes) -> np.ndarray:
    image = _decode_png(data)
    if image is None:
        raise LabelStoreError("a stored image is not a readable PNG: the label database is damaged")
    return image


class LabelStore:
    """Answers of one run (``run``) to queries about one task, in a SQLite file.

    Args:
        path: the database file; created when missing.
        run: the run's name; answers of other runs in the same file are kept apart.
        task: ``push``, ``mnist`` ...

    Raises:
        LabelStoreError: the file is not SQLite, is corrupt, or belongs to another program.
    """

    def __init__(self, path: str | Path, run: str = "default", task: str = "") -> None:
        self.path = Path(path)
        self.run = run
        self.task = task
        existed = self.path.exists() and self.path.stat().st_size > 0
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self._check_owner(existed)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            if not existed:
                self.db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            self.db.executescript(SCHEMA)
            columns = {r[1] for r in self.db.execute("PRAGMA table_info(labels)")}
            # Stores written before corrections, or scene states, existed.
            for column, kind in (("supersedes", "INTEGER"), ("scene", "BLOB")):
                if column not in columns:
                    self.db.execute(f"ALTER TABLE labels ADD COLUMN {column} {kind}")
        except sqlite3.DatabaseError as e:
            raise LabelStoreError(f"{self.path}: not a usable label database ({e})") from e

    def _check_owner(self, existed: bool) -> None:
        if not existed:
            return
        (app_id,) = self.db.execute("PRAGMA application_id").fetchone()
        tables = {
            r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if app_id != APPLICATION_ID or "labels" not in tables:
            self.db.close()
            raise LabelStoreError(
                f"{self.path}: a database of another program (application id {app_id:#x}), "
                "not a reward_learning label store; left untouched"
            )

    def add(
        self,
        image: np.ndarray,
        label: int | None,
        source: str,
        key: int | None = None,
        probability: float | None = None,
        score: float | None = None,
        scene: np.ndarray | None = None,
    ) -> int:
        """Commit one answer (``label=None`` for a skip); returns its row id once it is durable."""
        return self._insert(
            StoredLabel(
                0,
                self.run,
                self.task,
                key,
                image,
                label,
                source,
                probability,
                score,
                time.time(),
                scene=scene,
            )  # fmt: skip
        )

    def _insert(self, answer: StoredLabel) -> int:
        cursor = self.db.execute(
            "INSERT INTO labels (run, task, key, image_hash, image_png, label, source, probability,"
            " score, created, supersedes, scene) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                answer.run, answer.task, answer.key, image_hash(answer.image), _png(answer.image),
                answer.label, answer.source, answer.probability, answer.score, answer.created,
                answer.supersedes, _npy(answer.scene),
            ),
        )  # fmt: skip
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def correct(self, answer: StoredLabel, label: int) -> StoredLabel:
        """Commit a correction of ``answer``: a new row that supersedes it (nothing is deleted).

        Returns the new row as stored, once it is durable; :meth:`answers` shows it in place of
        the old one from then on.
        """
        correction = answer._replace(
            label=label, source="correction", created=time.time(), supersedes=answer.id
        )
        return correction._replace(id=self._insert(correction))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written inside commits together, or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def answer_pending(self, frame: StoredLabel, label: int | None, source: str) -> int:
        """Answer a pending frame (``None``: skip it); returns the answer's row id.

        The answer's row and the frame's leaving the queue commit together: a process killed
        at any moment leaves the frame either pending or answered, never lost.
        """
        with self.transaction():
            row = self._insert(frame._replace(label=label, source=source, created=time.time()))
            self.retract(frame.id)
        return row

    def take_back_pending(self, answer_id: int, frame: StoredLabel) -> None:
        """Undo :meth:`answer_pending`: the answer is taken back and the frame waits again."""
        with self.transaction():
            self.retract(answer_id)
            self.restore(frame.id)

    def retract(self, row_id: int) -> None:
        """Mark an answer as taken back (undo); the row stays, for the record."""
        self.db.execute("UPDATE labels SET retracted = 1 WHERE id = ?", (row_id,))

    def restore(self, row_id: int) -> None:
        """Undo a :meth:`retract`."""
        self.db.execute("UPDATE labels SET retracted = 0 WHERE id = ?", (row_id,))

    def answers(self, include_skipped: bool = False) -> list[StoredLabel]:
        """The answers in force, oldest first: not taken back, and not superseded by a correction.

        Every row of the store counts, whatever its ``run``: a run directory's store is that
        run's under any name it is moved to, and imported rows count.
        """
        sql = (
            "SELECT id, run, task, key, image_png, label, source, probability, score, created,"
            f" supersedes, scene FROM labels WHERE {IN_FORCE}"
        )
        if not include_skipped:
            sql += " AND label IS NOT NULL"
        rows = self.db.execute(sql + " ORDER BY id").fetchall()
        return [
            StoredLabel(
                r[0],
                r[1],
                r[2],
                r[3],
                _unpng(r[4]),
                r[5],
                r[6],
                r[7],
                r[8],
                r[9],
                r[10],
                _unnpy(r[11]),
            )  # fmt: skip
            for r in rows
        ]

    def counts(self) -> LabelCounts:
        """How many answers are in force, frames wait, were skipped, and answers were corrected."""
        row = self.db.execute(
            "SELECT COUNT(label), COUNT(*) FILTER (WHERE label IS NULL AND source = 'pending'),"
            " COUNT(*) FILTER (WHERE label IS NULL AND source != 'pending'),"
            f" COUNT(supersedes) FROM labels WHERE {IN_FORCE}"
        ).fetchone()
        return LabelCounts(*row)

    def pending(self) -> list[StoredLabel]:
        """Frames a run saved for a person to answer later (``--oracle later``), oldest first."""
        return [
            a
            for a in self.answers(include_skipped=True)
            if a.source == "pending" and a.label is None
        ]

    def asked_hashes(self) -> set[str]:
        """Hashes of every image in the store (asked, skipped, undone or imported)."""
        rows = self.db.execute("SELECT image_hash FROM labels")
        return {r[0] for r in rows}

    def __len__(self) -> int:
        return len(self.answers())

    def close(self) -> None:
        """Close the database (answers are already durable)."""
        self.db.close()


def stored_answers(oracle: Oracle, query: Query, store: LabelStore) -> Iterator[tuple[Answer, int]]:
    """Ask ``oracle`` about ``query``, committing each answer to ``store`` before yielding it.

    Yields:
        ``(answer, row id)``. An undo retracts the row of the answer it takes back and yields
        that row's id.
    """
    rows: dict[int, int] = {}
    for answer in oracle.ask(query):
        position = answer.position
        if answer.undo:
            if position in rows:
                row = rows.pop(position)
                store.retract(row)
                yield answer, row
            continue
        belief = np.asarray(query.probabilities[position], dtype=np.float64)
        rows[position] = store.add(
            query.images[position], answer.label, oracle.source, int(query.keys[position]),
            float(belief.max()), float(query.scores[position]), query.scene(position),
        )  # fmt: skip
        yield answer, rows[position]


EXPORT_FIELDS = ("file", "label", "source", "run", "task", "key", "probability", "score", "created")


def export_labels(store: LabelStore, folder: str | Path) -> int:
    """Write every answer of the store (all runs, skips included) as PNGs plus ``labels.csv``."""
    import csv

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    answers = store.answers(include_skipped=True)
    with open(folder / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(EXPORT_FIELDS)
        for a in answers:
            name = f"{a.id:06d}.png"
            (folder / name).write_bytes(_png(a.image))
            writer.writerow([name, "" if a.label is None else a.label, a.source, a.run, a.task,
                             "" if a.key is None else a.key, a.probability, a.score, a.created])  # fmt: skip
    return len(answers)


def _optional(text: str, kind: type[int] | type[float]) -> Any:
    return None if text in ("", "None") else kind(text)


def _checked_row(
    folder: Path,
    row: dict[str, str],
    line: int,
    task: str,
    shape: tuple[int, ...] | None,
    classes: int,
) -> StoredLabel:
    """One row of an export as a :class:`StoredLabel`, or a one-line error naming the row.

    A gray image of the right size becomes RGB when ``shape`` asks for RGB (three equal
    channels, as the frame a camera gives of a gray scene); any other size or channel count
    than ``shape`` is refused.
    """
    where = f"{folder / 'labels.csv'} row {line}"
    path = folder / row["file"]
    if not path.is_file():
        raise UserInputError(f"{where}: {row['file']} is not in {folder}")
    image = _decode_png(path.read_bytes())
    if image is None or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise UserInputError(f"{where}: {row['file']} is not a readable 8-bit PNG")
    if image.ndim == 3 and image.shape[2] != 3:
        raise UserInputError(f"{where}: {row['file']} has {image.shape[2]} channels, not RGB")
    if shape is not None and len(shape) == 3 and image.shape == shape[:2]:
        image = np.repeat(image[..., None], 3, axis=2)
    if shape is not None and image.shape != shape:
        raise UserInputError(
            f"{where}: {row['file']} is {'x'.join(map(str, image.shape))}, this run's frames "
            f"are {'x'.join(map(str, shape))}: export it from a run with the same --image-size"
        )
    row_task = row["task"] or task
    if task and row_task != task:
        raise UserInputError(f"{where}: an answer about {row_task!r}, this store is {task!r}")
    try:
        label = _optional(row["label"], int)
        answer = StoredLabel(
            0, row["run"], row_task, _optional(row["key"], int), image, label, row["source"],
            _optional(row["probability"], float), _optional(row["score"], float),
            float(row["created"]),
        )  # fmt: skip
    except ValueError as error:
        raise UserInputError(f"{where}: {error}") from error
    if label is not None and not 0 <= label < classes:
        raise UserInputError(f"{where}: label {label} for {row_task!r}, expected 0-{classes - 1}")
    return answer


def import_labels(
    store: LabelStore, folder: str | Path, shape: tuple[int, ...] | None = None, classes: int = 2
) -> int:
    """Add the answers of an exported folder to ``store``, all or none; returns how many.

    Every row is checked first (columns, PNG readable and 8-bit, of the run's frame ``shape``
    (H, W[, 3]) when given, label below ``classes``); one bad row refuses the whole folder and
    leaves the store as it was. Rows the store holds already (the same image with the same
    label) are skipped.

    Raises:
        UserInputError: one line naming the folder, the row and the problem.
    """
    import csv

    folder = Path(folder)
    table = folder / "labels.csv"
    if not table.exists():
        raise UserInputError(f"{folder} has no labels.csv (write one with `labels export`)")
    with open(table, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in EXPORT_FIELDS if c not in (reader.fieldnames or [])]
        if missing:
            raise UserInputError(f"{table} lacks the column(s) {', '.join(missing)}")
        answers = [
            _checked_row(folder, row, i + 2, store.task, shape, classes)
            for i, row in enumerate(reader)
        ]
    held = {
        (h, label)
        for h, label in store.db.execute("SELECT image_hash, label FROM labels WHERE retracted = 0")
    }
    added = 0
    with store.transaction():
        for answer in answers:
            identity = (image_hash(answer.image), answer.label)
            if identity in held:
                continue
            held.add(identity)
            store._insert(answer)
            added += 1
    return added
