"""CI reads its test command out of README.md; these tests run that same extraction."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ci_line(prefix: str) -> str:
    for line in (ROOT / ".ci" / "run").read_text().splitlines():
        if line.startswith(prefix):
            return line
    raise AssertionError(f".ci/run has no line starting with {prefix!r}")


def test_ci_test_command_runs_in_the_ci_venv() -> None:
    """The README's command names `.venv/bin/`; CI must strip every one, or it runs a missing venv."""
    script = _ci_line("test_command=") + '\nprintf "%s" "$test_command"'
    command = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert ".venv/" not in command
    assert command.startswith("pip install -c .ci/constraints.txt")
    assert command.endswith("python -m pytest")
