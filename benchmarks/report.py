"""Shared by the benchmarks: the machine's description and README section updates."""

from __future__ import annotations

import os
import platform
import re
import shutil
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def machine() -> str:
    """CPU model, core count and memory of this machine, in one line."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else cpu
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = "an NVIDIA GPU" if shutil.which("nvidia-smi") else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {gpu}" if os.cpu_count() else cpu


def update_section(name: str, body: str, near: str = "") -> None:
    """Replace the text between ``<!-- name:start -->`` and ``<!-- name:end -->`` in the README.

    A new section goes after the section whose name shares the longest start with ``name``
    among those whose names start with ``near`` (Push's pixel rows beside Push's, not after
    MNIST), or at the end where ``near`` is empty or no such section exists.
    """
    text = README.read_text()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text:
        others = re.findall(r"<!-- (\S+):end -->", text) if near else []
        kin = [o for o in others if o.startswith(near)]
        if kin:
            closest = max(reversed(kin), key=lambda o: len(os.path.commonprefix([o, name])))
            text = text.replace(
                f"<!-- {closest}:end -->", f"<!-- {closest}:end -->\n\n{start}\n{end}", 1
            )
        else:
            text += f"\n{start}\n{end}\n"
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    README.write_text(f"{before}{start}\n{body}\n{end}{after}")
