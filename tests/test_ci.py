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


def _venv_block() -> str:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    start = lines.index('if [ -n "${FEVER_CI_VENV:-}" ]; then')
    return "\n".join(lines[start : lines.index("fi", start) + 1])


def test_ci_removes_its_throw_away_venv_when_it_ends(tmp_path) -> None:
    """Each CI run installs torch into a fresh venv (about 7 GB); left behind, a few runs fill the disk."""
    script = "set -euo pipefail\n" + _venv_block() + '\nmkdir -p "$VENV/bin"\nprintf "%s" "$VENV"'
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)}
    venv = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert venv.startswith(str(tmp_path)) and venv.endswith("/venv")
    assert not Path(venv).parent.exists() and list(tmp_path.iterdir()) == []


def test_ci_keeps_a_venv_it_was_given(tmp_path) -> None:
    given = tmp_path / "kept"
    script = "set -euo pipefail\n" + _venv_block() + '\nmkdir -p "$VENV"\nprintf "%s" "$VENV"'
    env = {"PATH": "/usr/bin:/bin", "FEVER_CI_VENV": str(given)}
    venv = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert venv == str(given) and given.is_dir()
