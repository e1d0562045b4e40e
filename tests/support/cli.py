"""Running the ``celeriac`` command as a real process, as a user does, and reading what
it leaves running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.helpers import ROOT, TEST_AGENTS


def environment(**settings: str) -> dict[str, str]:
    """The test process's environment (already free of CELERIAC_*) plus these settings."""
    return {**os.environ, "CELERIAC_AGENT_MODULES": TEST_AGENTS, **settings}


def celeriac(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=ROOT,
        env=env or environment(),
        capture_output=True,
        text=True,
        timeout=180,
    )


def fails(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The one-line error of a command that exited with ``code`` and printed nothing."""
    assert result.returncode == code, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


def stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (which may hold spaces), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def is_running(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"  # a zombie has ended
