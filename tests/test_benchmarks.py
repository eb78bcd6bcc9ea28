"""The benchmark scripts refuse what their runs would refuse, before any run starts."""

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import report

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--modes", "vice", "nonsense"], "'nonsense'"),
        (["--set", "query_strategy=nonsense"], "--query-strategy 'nonsense'"),
        (["--set", "learning_rate=-1"], "--learning-rate -1.0"),
        (["--set", "seed=3"], "--set seed"),
        (["--set", "device=cpu"], "--set device: this benchmark sets it from its own flags"),
        (["--set", "learning_rate=1e-3,3e-4"], "--set learning_rate"),
    ],
)
def test_pixel_learning_refuses_a_bad_run_before_starting_any(
    tmp_path: Path, flags: list[str], named: str
) -> None:
    out = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.pixel_learning", "--steps", "100", "--seeds", "0",
         "--out", str(out), *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    assert named in done.stderr.strip().splitlines()[-1]
    assert not out.exists()


def test_a_new_section_goes_beside_its_kin_and_an_old_one_is_replaced_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Push\n<!-- pixels-cpu-state-vice:start -->\nold\n<!-- pixels-cpu-state-vice:end -->\n"
        "Push prose\n# MNIST\n<!-- mnist:start -->\nm\n<!-- mnist:end -->\n"
    )
    monkeypatch.setattr(report, "README", readme)
    report.update_section("pixels-cpu-state-sparse", "new", near="pixels-cpu")
    report.update_section("pixels-cpu-state-vice", "replaced", near="pixels-cpu")
    report.update_section("fetch-cpu-state-vice", "alone", near="fetch-cpu")
    text = readme.read_text()
    assert text.index("replaced") < text.index("new") < text.index("Push prose")
    assert "old" not in text
    assert text.index("<!-- mnist:end -->") < text.index("alone")
