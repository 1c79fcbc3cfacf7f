"""Peak resident memory of this process, and of a command run as a child, measured honestly.

Why not ``getrusage``: on Linux, ``ru_maxrss`` survives ``exec``. A child started by a big parent
(``subprocess`` forks or vforks first) reports the *parent's* peak as its own, and
``RUSAGE_CHILDREN`` keeps the largest child ever waited for. Under pytest, whose process had
grown to 3 GB, a 320x180 clip "peaked" at 3,114 MB. ``VmHWM`` in ``/proc/self/status`` belongs to
the address space made by ``exec``, so it is what the command itself used.
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (``VmHWM``; ``ru_maxrss`` where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # macOS reports bytes


def run_module_measured(module: str, args: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``python -m module args`` in a child; returns the finished process and its own peak MB.

    The child runs the module through this file's ``__main__``, which writes its ``VmHWM`` to a
    temporary file as it exits (even when the module fails).
    """
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "peak.json"
        cmd = [sys.executable, "-m", __name__, str(report), module, *args]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if not report.exists():
            tail = run.stderr[-2000:]
            raise RuntimeError(f"python -m {module} exited ({run.returncode}) without reporting its memory: {tail}")
        return run, json.loads(report.read_text())["peak_mb"]


def _child(report: str, module: str, args: list[str]) -> None:
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        Path(report).write_text(json.dumps({"peak_mb": peak_rss_mb()}))


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], sys.argv[3:])
