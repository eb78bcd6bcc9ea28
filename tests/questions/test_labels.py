"""The label store: durable answers, corrections, pending frames, export and import."""

import hashlib
import re
import signal
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from reward_learning.cli import main
from reward_learning.errors import UserInputError
from reward_learning.questions.labels import (
    LabelStore,
    LabelStoreError,
    export_labels,
    import_labels,
)


def frame(i, size=16):
    return np.random.default_rng(i).integers(0, 255, (size, size, 3), dtype=np.uint8)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_answers_round_trip_with_images(tmp_path):
    store = LabelStore(tmp_path / "labels.sqlite", "run1", "push")
    first = store.add(frame(0), 1, "human", key=5, probability=0.7, score=0.7)
    store.add(frame(1), None, "human", key=6)  # a skip
    store.add(frame(2), 0, "simulated", key=7)
    answers = store.answers()
    assert [a.label for a in answers] == [1, 0]
    np.testing.assert_array_equal(answers[0].image, frame(0))
    assert answers[0].key == 5 and answers[0].probability == pytest.approx(0.7)
    assert len(store.answers(include_skipped=True)) == 3
    store.retract(first)
    assert [a.label for a in store.answers()] == [0]
    assert len(store.asked_hashes()) == 3  # never asked twice, even after an undo


def test_a_correction_supersedes_the_answer_and_both_rows_stay(tmp_path):
    path = tmp_path / "labels.sqlite"
    store = LabelStore(path, "run1", "push")
    store.add(frame(0), 1, "human", key=5, probability=0.7)
    store.add(frame(1), 0, "human", key=6)
    wrong = store.answers()[0]
    fixed = store.correct(wrong, 0)
    answers = LabelStore(path, "run1", "push").answers()  # durable: a fresh connection sees it
    assert [(a.key, a.label, a.source) for a in answers] == [(6, 0, "human"), (5, 0, "correction")]
    assert answers[1].supersedes == wrong.id and answers[1].id == fixed.id
    np.testing.assert_array_equal(answers[1].image, frame(0))
    (rows,) = sqlite3.connect(path).execute("SELECT COUNT(*) FROM labels").fetchone()
    assert rows == 3  # nothing deleted
    store.correct(answers[1], 1)  # a correction of a correction: the latest is in force
    assert sorted(a.label for a in store.answers()) == [0, 1]


def store_from_before(path, column):
    """A store with one answer, written before ``column`` existed."""
    LabelStore(path, "run1", "push").add(frame(0), 1, "human")
    db = sqlite3.connect(path)
    db.execute(f"ALTER TABLE labels DROP COLUMN {column}")
    db.commit()
    db.close()


def test_a_store_from_before_corrections_gains_the_column_and_keeps_its_rows(tmp_path):
    path = tmp_path / "labels.sqlite"
    store_from_before(path, "supersedes")
    store = LabelStore(path, "run1", "push")
    assert [a.label for a in store.answers()] == [1]
    store.correct(store.answers()[0], 0)
    assert [a.label for a in store.answers()] == [0]


def test_a_frame_keeps_its_scene_state_and_a_store_from_before_gains_the_column(tmp_path):
    path = tmp_path / "labels.sqlite"
    store_from_before(path, "scene")
    store = LabelStore(path, "run1", "push")
    store.add(frame(1), None, "pending", key=3, scene=np.arange(5, dtype=np.float32))
    old, pending = store.answers(include_skipped=True)
    assert old.scene is None
    np.testing.assert_array_equal(pending.scene, np.arange(5))


def test_answering_a_pending_frame_keeps_its_scene_and_leaves_the_queue_at_once(tmp_path):
    store = LabelStore(tmp_path / "labels.sqlite", "run1", "push")
    store.add(frame(0), None, "pending", key=3, probability=0.2, scene=np.ones(4, np.float32))
    (waiting,) = store.pending()
    row = store.answer_pending(waiting, 1, "human")
    fresh = LabelStore(tmp_path / "labels.sqlite", "run1", "push")  # durable
    assert fresh.pending() == []
    (answer,) = fresh.answers()
    assert (answer.id, answer.label, answer.source, answer.key) == (row, 1, "human", 3)
    assert answer.probability == pytest.approx(0.2)
    np.testing.assert_array_equal(answer.scene, np.ones(4))


def test_an_answer_to_a_pending_frame_taken_back_leaves_the_frame_waiting_again(tmp_path):
    store = LabelStore(tmp_path / "labels.sqlite", "run1", "push")
    store.add(frame(0), None, "pending", key=3)
    (waiting,) = store.pending()
    store.take_back_pending(store.answer_pending(waiting, 1, "human"), waiting)
    fresh = LabelStore(tmp_path / "labels.sqlite", "run1", "push")
    assert fresh.answers() == []
    assert [(f.key, f.source) for f in fresh.answers(include_skipped=True)] == [(3, "pending")]


def test_a_store_keeps_its_labels_under_any_run_name_and_survives_reopening(tmp_path):
    path = tmp_path / "labels.sqlite"
    a = LabelStore(path, "a", "push")
    a.add(frame(0), 1, "human")
    a.close()
    renamed = LabelStore(path, "b", "push")  # the run directory was renamed
    assert len(renamed.answers()) == 1 and len(renamed.asked_hashes()) == 1
    assert renamed.answers()[0].run == "a"  # provenance stays


KILLER = """
import sys, numpy as np
from reward_learning.questions.labels import LabelStore
store = LabelStore(sys.argv[1], "killed", "push")
for i in range(10_000):
    store.add(np.full((16, 16, 3), i % 256, np.uint8), i % 2, "human", key=i)
    print(i + 1, flush=True)  # the answer is durable before anyone hears of it
"""


@pytest.mark.parametrize("k", [1, 3, 7, 20])
def test_sigkill_after_k_answers_keeps_at_least_those_k(tmp_path, k):
    path = tmp_path / "labels.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLER, str(path)], stdout=subprocess.PIPE, text=True
    )
    for _ in range(k):
        child.stdout.readline()
    child.send_signal(signal.SIGKILL)
    child.wait()
    rows = LabelStore(path, "killed", "push").answers()
    # Every answer announced is stored, and nothing out of order: the child may have committed
    # more before the signal arrived (it keeps answering while this process reads), never fewer.
    assert k <= len(rows)
    assert [r.key for r in rows] == list(range(len(rows)))


KILL_AT = """
import os, signal, sys, numpy as np
from reward_learning.questions.labels import LabelStore
store = LabelStore(sys.argv[1], "killed", "push")
k = int(sys.argv[2])
for i in range(k):
    store.add(np.full((16, 16, 3), i, np.uint8), 1, "human", key=i)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("k", [1, 2, 5, 13])
def test_process_killed_right_after_k_answers_leaves_exactly_k(tmp_path, k):
    path = tmp_path / "labels.sqlite"
    result = subprocess.run([sys.executable, "-c", KILL_AT, str(path), str(k)])
    assert result.returncode == -signal.SIGKILL
    assert len(LabelStore(path, "killed", "push").answers()) == k


def test_corrupt_database_is_refused_and_untouched(tmp_path):
    path = tmp_path / "labels.sqlite"
    path.write_bytes(b"this is not a database at all" * 100)
    before = digest(path)
    with pytest.raises(LabelStoreError, match="not a usable label database"):
        LabelStore(path, "r", "push")
    assert digest(path) == before


def test_database_of_another_program_is_refused_and_untouched(tmp_path):
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (name TEXT)")
    db.execute("INSERT INTO customers VALUES ('x')")
    db.commit()
    db.close()
    before = digest(path)
    with pytest.raises(LabelStoreError, match="another program"):
        LabelStore(path, "r", "push")
    assert digest(path) == before


def test_export_then_import_reproduces_the_store(tmp_path):
    source = LabelStore(tmp_path / "a.sqlite", "run", "push")
    for i, label in enumerate([1, 0, None, 1]):
        source.add(frame(i), label, "human", key=i, probability=0.1 * i, score=0.5)
    assert export_labels(source, tmp_path / "export") == 4
    target = LabelStore(tmp_path / "b.sqlite", "run", "push")
    assert import_labels(target, tmp_path / "export") == 4
    a, b = source.answers(include_skipped=True), target.answers(include_skipped=True)
    assert [x._replace(id=0, image=None) for x in a] == [y._replace(id=0, image=None) for y in b]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.image, y.image)


def test_labels_cli(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    LabelStore(run / "labels.sqlite", "run", "push").add(frame(0), 1, "human")
    assert main(["labels", "list", str(run)]) == 0
    assert "1 answers" in capsys.readouterr().out
    assert main(["labels", "export", str(run), "--folder", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "labels.csv").exists()
    assert main(["labels", "import", str(run), "--folder", str(tmp_path / "x")]) == 0
    assert "0 answers imported" in capsys.readouterr().out  # its own rows: nothing doubled
    assert len(LabelStore(run / "labels.sqlite", "run").answers()) == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda run: None, "does not exist"),
        (lambda run: run.mkdir(), "has no label store"),
    ],
)
def test_labels_cli_bad_run_dir_is_one_line(tmp_path, capsys, make, message):
    run = tmp_path / "run"
    make(run)
    assert main(["labels", "list", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_labels_cli_foreign_database_is_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "labels.sqlite").write_bytes(b"garbage" * 1000)
    assert main(["labels", "list", str(run)]) == 2
    assert "not a usable label database" in capsys.readouterr().err


def test_importing_an_export_twice_adds_nothing_the_second_time(tmp_path):
    source = LabelStore(tmp_path / "a.sqlite", "run", "push")
    for i, label in enumerate([1, 0]):
        source.add(frame(i), label, "human", key=i)
    export_labels(source, tmp_path / "export")
    target = LabelStore(tmp_path / "b.sqlite", "run", "push")
    assert import_labels(target, tmp_path / "export") == 2
    assert import_labels(target, tmp_path / "export") == 0
    assert len(target.answers()) == 2


def _spoil(folder, how):
    import csv

    rows = list(csv.DictReader(open(folder / "labels.csv", newline="")))
    fields = list(rows[0])
    if how == "missing png":
        (folder / rows[1]["file"]).unlink()
    elif how == "corrupt png":
        (folder / rows[1]["file"]).write_bytes(b"not a png")
    elif how == "label maybe":
        rows[1]["label"] = "maybe"
    elif how == "label 7":
        rows[1]["label"] = "7"
    elif how == "no label column":
        fields.remove("label")
    with open(folder / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("missing png", "row 3: 000002.png is not in"),
        ("corrupt png", "row 3: 000002.png is not a readable 8-bit PNG"),
        ("label maybe", "row 3: invalid literal"),
        ("label 7", "row 3: label 7 for 'push', expected 0-1"),
        ("no label column", "lacks the column(s) label"),
    ],
)
def test_a_bad_row_refuses_the_whole_import_and_changes_nothing(tmp_path, how, message):
    source = LabelStore(tmp_path / "a.sqlite", "run", "push")
    for i, label in enumerate([1, 0, 1]):
        source.add(frame(i), label, "human", key=i)
    export_labels(source, tmp_path / "export")
    _spoil(tmp_path / "export", how)
    target = LabelStore(tmp_path / "b.sqlite", "run", "push")
    target.add(frame(9), 1, "human")
    with pytest.raises(UserInputError, match=re.escape(message)):
        import_labels(target, tmp_path / "export")
    assert len(target.answers(include_skipped=True)) == 1


def test_digit_answers_import_where_the_caller_says_ten_classes(tmp_path):
    source = LabelStore(tmp_path / "a.sqlite", "run", "digits")
    rng = np.random.default_rng(0)
    for digit in (7, 3):
        source.add(rng.integers(0, 256, (28, 28), dtype=np.uint8), digit, "human")
    export_labels(source, tmp_path / "export")
    target = LabelStore(tmp_path / "b.sqlite", "run", "digits")
    with pytest.raises(UserInputError, match="label 7 for 'digits', expected 0-1"):
        import_labels(target, tmp_path / "export")
    assert import_labels(target, tmp_path / "export", shape=(28, 28), classes=10) == 2
