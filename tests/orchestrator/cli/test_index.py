"""``celeriac index``: building and listing collections, run as a real process."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.collections import load_collection
from tests.support.cli import celeriac, environment, fails
from tests.support.helpers import needs_dense


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return environment(CELERIAC_DATA_DIR=str(tmp_path / "data"))


def knowledge_base(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    (root / "guides").mkdir(parents=True)
    (root / "guides" / "reset.md").write_text("# Reset a password\n\nUse the link.")
    (root / "billing.txt").write_text("Billing\nInvoices go out monthly.")
    (root / "faq.jsonl").write_text('{"id": "f1", "text": "Log in with your email."}\n')
    (root / "logo.png").write_bytes(b"\x89PNG")
    return root


def test_index_then_list(tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "data"
    before = datetime.now(UTC).replace(microsecond=0)
    made = celeriac("index", "support", str(knowledge_base(tmp_path)), "--no-dense", env=env)
    assert made.returncode == 0, made.stderr
    assert made.stdout == f"indexed 3 documents as 'support' in {data}/collections/support\n"
    assert made.stderr == "skipped 1 files that are not .txt, .md or .jsonl\n"
    collection = load_collection(data, "support")
    assert [d.id for d in collection.documents] == ["billing", "f1", "reset"]

    listed = celeriac("index", "--list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)["collections"]
    assert (entry["name"], entry["documents"]) == ("support", 3)
    built_at = datetime.fromisoformat(entry["built_at"])
    assert before <= built_at <= datetime.now(UTC) + timedelta(seconds=1)

    table = celeriac("index", "--list", env=env)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "support" in line)
    assert [cell.strip() for cell in row.split("│")[1:4]] == ["support", "3", built_at.isoformat()]


def test_index_skips_empty_documents_with_one_warning(tmp_path: Path, env: dict[str, str]) -> None:
    corpus = tmp_path / "cran.jsonl"
    records = [
        {"id": str(i), "text": "" if i in (471, 995) else f"wing {i}"} for i in range(1, 1001)
    ]
    corpus.write_text("".join(json.dumps(record) + "\n" for record in records))
    made = celeriac("index", "cran", str(corpus), "--no-dense", env=env)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("indexed 998 documents as 'cran'")
    assert made.stderr == "skipped 2 empty documents (nothing to index): 471, 995\n"

    corpus.write_text('{"id": "471", "text": ""}\n')
    assert fails(celeriac("index", "cran", str(corpus), env=env), 2) == (
        f"no documents in {corpus} (skipped 1 empty document): a collection needs .txt, .md "
        "or .jsonl files"
    )


@needs_dense
def test_index_stores_embeddings_where_the_dense_extra_is_installed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    data = tmp_path / "data"
    kb = str(knowledge_base(tmp_path))
    made = celeriac("index", "support", kb, env=env)
    assert made.returncode == 0, made.stderr
    assert made.stderr == "skipped 1 files that are not .txt, .md or .jsonl\n"
    collection = load_collection(data, "support")
    assert collection.manifest.embeddings == "all-MiniLM-L6-v2"
    assert collection.embeddings is not None and collection.embeddings.shape == (3, 384)

    plain = celeriac("index", "support", kb, "--no-dense", env=env)
    assert plain.returncode == 0, plain.stderr
    collection = load_collection(data, "support")
    assert (collection.manifest.embeddings, collection.embeddings) == (None, None)


def test_index_again_replaces_the_collection(tmp_path: Path, env: dict[str, str]) -> None:
    kb = str(knowledge_base(tmp_path))
    assert celeriac("index", "kb", kb, "--no-dense", env=env).returncode == 0
    one = tmp_path / "one.txt"
    one.write_text("Only this")
    again = celeriac("index", "kb", str(one), "--no-dense", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("indexed 1 document as 'kb' in ")
    listed = json.loads(celeriac("index", "--list", "--json", env=env).stdout)
    assert [(c["name"], c["documents"]) for c in listed["collections"]] == [("kb", 1)]


def test_list_with_no_collections(tmp_path: Path, env: dict[str, str]) -> None:
    listed = celeriac("index", "--list", env=env)
    assert listed.returncode == 0
    assert listed.stdout == ""
    assert listed.stderr == (
        f"no collections in {tmp_path / 'data' / 'collections'}: create one with "
        "`celeriac index NAME PATH...`\n"
    )
    assert json.loads(celeriac("index", "--list", "--json", env=env).stdout) == {"collections": []}


def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    missing = tmp_path / "[missing]"
    pdf = tmp_path / "manual.pdf"
    pdf.write_bytes(b"%PDF")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "ok"}\n{"id": "a", "text": }\n')
    assert fails(celeriac("index", "kb", str(missing), env=env), 2) == (
        f"{missing}: no such file or directory"
    )
    assert fails(celeriac("index", "kb", str(pdf), env=env), 2) == (
        f"{pdf}: unsupported file type '.pdf'; give .txt, .md or .jsonl files, "
        "or directories of them"
    )
    assert fails(celeriac("index", "kb", str(bad), env=env), 2) == (
        f"{bad} line 2: not valid JSON (Expecting value at column 21)"
    )
    assert fails(celeriac("index", "My KB", str(bad), env=env), 2) == (
        "'My KB' is not a collection name: use 1-64 lowercase letters, digits, '-' and '_', "
        "starting with a letter or digit"
    )
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a name and what to index: `celeriac index NAME PATH...` (or --list)"),
        (["kb"], "give a name and what to index: `celeriac index NAME PATH...` (or --list)"),
        (["kb", "--list"], "--list takes no NAME or PATH"),
    ],
    ids=["nothing", "no-path", "list-and-name"],
)
def test_bad_usage_exits_2(env: dict[str, str], args: list[str], message: str) -> None:
    assert fails(celeriac("index", *args, env=env), 2) == message
