"""Every code block of README.md, run as a reader would run it.

Each block is found by what it holds and handed to the test that runs it; a block no
test knows fails ``test_every_block_is_run``, so a new snippet comes with its test.
Shell lines naming ``celeriac`` are run (``.venv/bin/celeriac`` as this interpreter's
``-m orchestrator``) in a folder holding the files they name; addresses of the reader's
machines (``redis-host``, ``localhost:6379``) become a test Redis. The few lines that
install or deploy (``make``, ``apt-get``, ``docker compose``) are checked against what
runs them in CI and in ``tests/test_compose.py`` instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from agents import apertium
from orchestrator.client import Client
from orchestrator.embedded.procs import stop_process
from orchestrator.embedded.redis_server import RedisServer
from orchestrator.settings import Settings
from tests.orchestrator.cli.test_eval import DOCS, QRELS, QUERIES
from tests.support.helpers import ROOT, wait_for

README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
DATA = ROOT / "tests" / "data"


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    line: int

    @property
    def id(self) -> str:
        return f"{self.lang or 'text'}-line-{self.line}"


def readme_blocks() -> list[Block]:
    readme = README.read_text(encoding="utf-8")
    return [
        Block(m.group(1), m.group(2), readme.count("\n", 0, m.start()) + 1)
        for m in FENCE.finditer(readme)
    ]


def shell_lines(block: Block) -> list[str]:
    """The block's commands: continuations joined, ``[...]`` options, comments and blank
    lines dropped."""
    joined = re.sub(r"[ \t]*\[[^\]\n]*\]", "", block.text.replace("\\\n", " "))
    lines = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        background = words[-1:] == ["&"]
        if words:
            lines.append(shlex.join(words[: len(words) - background]) + " &" * background)
    return lines


BLOCKS = readme_blocks()
SDK = next(b for b in BLOCKS if b.lang == "python" and "Client()" in b.text)
SDK_DEPLOYMENT = BLOCKS[BLOCKS.index(SDK) - 1]
AGENT = next(b for b in BLOCKS if b.lang == "python" and "class Echo(Agent)" in b.text)
PLANS = [b for b in BLOCKS if b.lang == "json"]
SERVE = next(b for b in BLOCKS if b.lang == "sh" and "celeriac serve" in b.text)
OPENAI_EXAMPLE = next(b for b in BLOCKS if b.lang == "python" and "import OpenAI" in b.text)
COMMANDS = [
    (block, line)
    for block in BLOCKS
    if block.lang == "sh" and block not in (SDK_DEPLOYMENT, SERVE)
    for line in shell_lines(block)
]
# Install and deploy: checked against what runs them, not run inside the suite.
ELSEWHERE = re.compile(r"^(make (install|test)|apt-get install|cp \.env\.example|docker compose)")
has_apertium = shutil.which("apertium") is not None and ("eng", "spa") in apertium.pairs()


def test_every_block_is_run() -> None:
    known = {SDK, SDK_DEPLOYMENT, AGENT, SERVE, OPENAI_EXAMPLE, *PLANS}
    known |= {block for block, _ in COMMANDS}
    toml = [b for b in BLOCKS if b.lang == "toml"]
    unknown = [b.id for b in BLOCKS if b not in known and b not in toml]
    assert unknown == [], "README blocks that no test runs: add them to tests/test_readme.py"
    assert SDK_DEPLOYMENT.lang == "sh"  # the deployment the SDK example needs, spelled out


# --- plans -----------------------------------------------------------------------------------


@pytest.mark.parametrize("block", PLANS, ids=[b.id for b in PLANS])
def test_a_plan_runs_and_succeeds(block: Block, client: Client) -> None:
    document = json.loads(block.text)
    if "steps" not in document:  # a single step, as the scores section shows one
        document = {"steps": [document]}
    agents = {step["agent"] for step in document["steps"]}
    if agents <= {"join", "shout"}:  # the toy diamond, which examples/diamond.json holds
        assert block.text == (ROOT / "examples" / "diamond.json").read_text()
        return  # tests/test_examples.py runs that file
    if "translation" in agents and not has_apertium:
        pytest.skip("needs Apertium and apertium-eng-spa")
    result = client.submit(plan=document).wait(timeout=120)
    assert result.status == "succeeded", result.error
    for step in document["steps"]:
        if "reference" in step:  # scored against it
            assert result.steps[step["id"]].scores[0].name.startswith("ndcg@")


# --- shell commands --------------------------------------------------------------------------


def reader_folder(tmp_path: Path) -> Path:
    """A folder with every file the README's commands name."""
    here = tmp_path / "reader"
    (here / "my-notes").mkdir(parents=True)
    (here / "my-notes" / "airlock.md").write_text("# Airlock\n\nThe airlock opens at dawn.\n")
    (here / "docs").mkdir()
    (here / "docs" / "sync.md").write_text("# Sync\n\nNotes sync every minute.\n")
    (here / "faq.jsonl").write_text('{"id": "faq-1", "text": "Log in with your email."}\n')
    for name, text in (("cran.all.1400", DOCS), ("cran.qry", QUERIES), ("cranqrel", QRELS)):
        (here / name).write_text(text)
    shutil.copy(DATA / "translation" / "news.en", here / "en.txt")
    shutil.copy(DATA / "translation" / "news.es", here / "es.txt")
    shutil.copy(DATA / "squad.json", here / "dev-v1.1.json")
    dialogues = [
        {"dialogue": "A: The printer is jammed. B: Open the tray.", "summary": "Jammed printer."},
        {"dialogue": "A: Is lunch at noon? B: Yes, at noon.", "summary": "Lunch is at noon."},
    ]
    (here / "data.jsonl").write_text("".join(json.dumps(d) + "\n" for d in dialogues))
    claims = [
        {"document": "The cat sat on the mat.", "claim": "The cat sat.", "label": 1},
        {"document": "The cat sat on the mat.", "claim": "The dog ran away.", "label": 0},
    ]
    (here / "summeval.json").write_text(json.dumps(claims))
    return here


def as_run(line: str, redis_url: str | None) -> tuple[list[str], dict[str, str]]:
    """A README command line as argv and environment: leading assignments go to the
    environment, celeriac is this interpreter's."""
    words = shlex.split(line)
    env = {}
    while "=" in words[0] and not words[0].startswith("-"):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    if redis_url is not None:
        env = {k: re.sub(r"rediss?://\S+", redis_url, v) for k, v in env.items()}
    assert words[0] in ("celeriac", ".venv/bin/celeriac"), line
    return [sys.executable, "-m", "orchestrator", *words[1:]], env


def needs(line: str) -> str | None:
    """Why a line cannot run on this machine, if it cannot."""
    spanish = any(word in line for word in ("Spanish", "¿", "translation"))
    return "needs Apertium and apertium-eng-spa" if spanish and not has_apertium else None


@pytest.mark.parametrize(
    ("block", "line"), COMMANDS, ids=[f"{b.id}-{line[:40]}" for b, line in COMMANDS]
)
def test_a_command_runs_as_written(block: Block, line: str, tmp_path: Path) -> None:
    if ELSEWHERE.match(line):
        check_elsewhere(line)
        return
    if reason := needs(line):
        pytest.skip(reason)
    here = reader_folder(tmp_path)
    env = {
        **os.environ,
        "CELERIAC_DATA_DIR": str(tmp_path / "data"),
        "CELERIAC_LLM_BACKEND": "offline",
        "PYTHONPATH": str(ROOT),
    }
    if " worker " in f"{line} ":
        run_worker_line(line, env, here)
        return
    argv, assigned = as_run(line, None)
    done = subprocess.run(
        argv, cwd=here, env={**env, **assigned}, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    if "index --list" in line:  # nothing was indexed in this data folder, and it says so
        assert "no collections in" in done.stderr


def run_worker_line(line: str, env: dict[str, str], here: Path) -> None:
    """A worker pointed at another machine's Redis: here, at a password-protected test
    Redis; it must come up serving what the line says."""
    with (
        RedisServer(password="readme-password") as server,
        worker_of(line, server.url, env, here, serving="retrieval"),
    ):
        pass


@contextlib.contextmanager
def worker_of(
    line: str, redis_url: str, env: dict[str, str], cwd: Path, serving: str
) -> Iterator[None]:
    """The worker a README line starts, on ``redis_url``, once it serves ``serving``."""
    argv, assigned = as_run(line, redis_url)
    worker = subprocess.Popen(
        argv, cwd=cwd, env={**env, **assigned}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with Client(Settings(redis_url=redis_url)) as client:
            wait_for(
                lambda: any(serving in i.get("agents", []) for i in client.live_workers().values()),
                timeout=60,
                what=f"the README's worker to serve {serving}",
            )
        yield
    finally:
        stop_process(worker)


def check_elsewhere(line: str) -> None:
    """Lines that install or deploy: what they name exists where CI and the tests use it."""
    ci = (ROOT / ".ci" / "run").read_text()
    if line.startswith("make "):
        target = line.split()[1]
        assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), re.MULTILINE)
        assert f"make {target}" in ci
    elif line.startswith("apt-get install"):
        for package in line.split()[2:]:
            assert package in ci, package  # .ci/run installs the same packages
    elif line.startswith("cp .env.example"):
        assert (ROOT / ".env.example").is_file()
    else:  # docker compose: tests/test_compose.py runs every service's command
        services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
        scaled = re.findall(r"--scale (\w+)=", line)
        assert all(name in services for name in scaled), scaled
        profiles = re.findall(r"--profile (\w+)", line)
        assert all(any(p in s.get("profiles", []) for s in services.values()) for p in profiles), (
            profiles
        )


# --- Python ----------------------------------------------------------------------------------


@pytest.fixture
def readme_deployment(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The SDK section's deployment, run from its own lines: a Redis at the URL it
    exports (a test Redis in its place) and the worker it starts."""
    exported, worker_line = shell_lines(SDK_DEPLOYMENT)
    assert exported.startswith("export CELERIAC_REDIS_URL=") and worker_line.endswith(" &")
    with RedisServer() as server:
        env = {
            **os.environ,
            "CELERIAC_REDIS_URL": server.url,
            "CELERIAC_DATA_DIR": str(tmp_path / "data"),
            "CELERIAC_LLM_BACKEND": "offline",
        }
        with worker_of(worker_line.removesuffix(" &"), server.url, env, ROOT, serving="shout"):
            yield env


def test_the_sdk_example_runs_on_the_deployment_it_spells_out(
    readme_deployment: dict[str, str],
) -> None:
    if not has_apertium:
        pytest.skip("needs Apertium and apertium-eng-spa (its first goal asks for Spanish)")
    printed = python(["-c", SDK.text], ROOT, readme_deployment).splitlines()
    assert "contraseña" in printed[0].lower()  # the answer, in Spanish
    assert "step_succeeded a" in printed and printed[-1] == "succeeded {'text': 'HI'}"


def test_the_agent_example_is_served_and_runs(tmp_path: Path) -> None:
    (tmp_path / "readme_echo.py").write_text(AGENT.text)
    plan = {"steps": [{"id": "q", "agent": "echo", "input": {"text": "is it on?"}}]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    env = {
        **os.environ,
        "CELERIAC_AGENT_MODULES": "readme_echo",
        "PYTHONPATH": str(tmp_path),
        "CELERIAC_DATA_DIR": str(tmp_path / "data"),
    }
    printed = python(["-m", "orchestrator", "run", "--plan", "plan.json", "--json"], tmp_path, env)
    assert json.loads(printed)["answer"] == {"text": "is it on?"}


def python(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """What ``python ARGS...`` prints; it must succeed."""
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_entry_point_example_is_what_the_keywords_package_declares() -> None:
    [block] = [b for b in BLOCKS if b.lang == "toml"]
    shown: dict[str, Any] = tomllib.loads(block.text)
    package = tomllib.loads((ROOT / "examples" / "keywords" / "pyproject.toml").read_text())
    group = "celeriac.agents"
    assert list(shown["project"]["entry-points"]) == [group]
    assert group in package["project"]["entry-points"]  # test_third_party.py installs it
    [(name, target)] = shown["project"]["entry-points"][group].items()
    assert (name, target) == ("echo", "mypkg.agents")


# --- the HTTP service ------------------------------------------------------------------------


@pytest.fixture
def readme_server(tmp_path: Path) -> Iterator[str]:
    """The server the serving section starts with its first line (on a free port, not
    8000): its own Redis and worker, as on a fresh machine; yields its address."""
    from orchestrator.embedded.redis_server import free_port
    from tests.support.helpers import http_get

    line = shell_lines(SERVE)[0]
    assert line.endswith(" &") and "--port 8000" in line
    argv, assigned = as_run(line.removesuffix(" &"), None)
    port = free_port()
    argv[argv.index("8000")] = str(port)
    env = {
        **os.environ,
        **assigned,
        "CELERIAC_DATA_DIR": str(tmp_path / "data"),
        "CELERIAC_LLM_BACKEND": "offline",
    }
    server = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    try:
        address = f"localhost:{port}"
        wait_for(lambda: http_get(f"http://{address}/readyz")[0] == 200, what="celeriac serve")
        yield address
    finally:
        stop_process(server)


def test_the_serving_example_runs_as_written(readme_server: str, tmp_path: Path) -> None:
    script = SERVE.text.split("\n", 1)[1].replace("localhost:8000", readme_server)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert '"status":"ready"' in done.stdout
    assert "event: step_delta" in done.stdout and "event: job_finished" in done.stdout
    assert done.stdout.count("event: job_finished") == 2  # the second in one request
    assert "event: job_accepted" in done.stdout
    assert done.stdout.rstrip().endswith("}") and '"status":"succeeded"' in done.stdout


def test_the_openai_example_talks_to_the_server(readme_server: str) -> None:
    code = OPENAI_EXAMPLE.text.replace("localhost:8000", readme_server)
    printed = python(["-c", code], ROOT, {**os.environ}).splitlines()
    assert "export" in printed[0].lower() and printed[1] == "['export-notes']"
    assert "two-factor" in printed[2].lower()
