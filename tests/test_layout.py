"""The house rules of the code's layout: modules and functions small enough to read,
and package faces that load only what they are asked for. (The layers and the absence
of import circles are lint-imports' contracts, in pyproject.toml: `make lint`.)"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("orchestrator", "workers", "agents")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50


def modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in modules()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_over_50_lines() -> None:
    long = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    assert long == {}


def imported_by(statement: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after ``statement``."""
    probe = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return {name.partition(".")[0] for name in done.stdout.split()}


@pytest.mark.parametrize(
    "statement",
    [
        "import orchestrator.names",
        "import orchestrator.models",
        "import agents",
        "import orchestrator.tracing",
    ],
)
def test_a_light_module_does_not_load_celery_or_the_openai_sdk(statement: str) -> None:
    assert not {"celery", "kombu", "openai", "opentelemetry"} & imported_by(statement)


def test_import_orchestrator_still_gives_the_sdk() -> None:
    assert "celery" in imported_by("import orchestrator; orchestrator.Client")
    import orchestrator
    from orchestrator.client import Client

    assert orchestrator.Client is Client
