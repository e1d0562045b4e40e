"""``celeriac chat``: a conversation in the terminal with a ``celeriac serve``."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.orchestrator.service.conftest import Gateway
from tests.support.helpers import ROOT


def test_chat_streams_answers_to_each_question(gateway: Gateway) -> None:
    questions = "How do I export my notes?\nand can I do it on my phone?\n\n"
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "chat", "--url", gateway.url],
        input=questions,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "conversation " in done.stderr and "on demo" in done.stderr
    assert done.stdout.count("[export-notes]") == 2
    assert done.stdout.count("you> ") == 3 and "To export a note" in done.stdout
