"""Reading a collection's documents from text, Markdown and JSON Lines files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agents.documents import TITLE_MAX_CHARS, Document, empty_warning, read_documents
from agents.errors import CollectionError


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, *records: Any) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    return write(path, "\n".join(lines) + "\n")


def refused(*paths: Path) -> str:
    with pytest.raises(CollectionError) as caught:
        read_documents(paths)
    return str(caught.value)


# --- one document per text file ------------------------------------------------------------


def test_a_text_file_is_one_document_titled_by_its_first_line(tmp_path: Path) -> None:
    path = write(tmp_path / "refunds.txt", "\n\n  Refunds  \nMoney back within 30 days.\n")
    assert read_documents([path]).documents == [
        Document(id="refunds", title="Refunds", text="Refunds  \nMoney back within 30 days.")
    ]


def test_a_markdown_file_is_titled_by_its_first_heading(tmp_path: Path) -> None:
    path = write(tmp_path / "reset.md", "Last updated May.\n\n## Reset a password ##\n\nClick.\n")
    [document] = read_documents([path]).documents
    assert (document.id, document.title) == ("reset", "Reset a password")
    assert document.text == "Last updated May.\n\n## Reset a password ##\n\nClick."


def test_a_markdown_file_without_a_heading_is_titled_by_its_first_line(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.MD", "Plain notes\nwith #hashtags inside\n")
    assert read_documents([path]).documents[0].title == "Plain notes"


def test_a_long_title_is_shortened(tmp_path: Path) -> None:
    path = write(tmp_path / "long.txt", "word " * 100)
    title = read_documents([path]).documents[0].title
    assert len(title) == TITLE_MAX_CHARS
    assert title.endswith("…")


def test_a_byte_order_mark_is_not_text(tmp_path: Path) -> None:
    path = write(tmp_path / "bom.txt", "\ufeffTitle\nbody".encode())
    assert read_documents([path]).documents[0].title == "Title"


# --- one document per JSON line ------------------------------------------------------------


def test_jsonl_lines_are_documents(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "faq.jsonl",
        {"id": "q1", "title": "Login", "text": "Use your email.", "url": "ignored"},
        "",
        {"id": 7, "text": "\nFirst line\nsecond line"},
    )
    assert read_documents([path]).documents == [
        Document(id="q1", title="Login", text="Use your email."),
        Document(id="7", title="First line", text="First line\nsecond line"),
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"id": "a", "text": }', "not valid JSON (Expecting value at column 21)"),
        ('["a", "text"]', 'expected a JSON object such as {"id": "a1", "text": "..."}, got list'),
        ('{"text": "no id"}', '"id" must be a non-empty string, got None'),
        ('{"id": " ", "text": "x"}', "\"id\" must be a non-empty string, got ' '"),
        ('{"id": true, "text": "x"}', '"id" must be a non-empty string, got True'),
        ('{"id": "a"}', '"text" must be a string, got None'),
        ('{"id": "a", "text": 3}', '"text" must be a string, got 3'),
        ('{"id": "a", "text": "x", "title": 3}', '"title" must be a string, got 3'),
    ],
)
def test_a_bad_jsonl_line_names_its_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = jsonl(tmp_path / "docs.jsonl", {"id": "ok", "text": "fine"}, "", line)
    assert refused(path) == f"{path} line 3: {problem}"


def test_jsonl_that_is_not_utf8(tmp_path: Path) -> None:
    path = write(
        tmp_path / "latin.jsonl", b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "\xe9"}\n'
    )
    assert refused(path) == f"{path} line 2: not UTF-8 text (invalid continuation byte at byte 21)"


# --- paths and directories -----------------------------------------------------------------


def test_directories_are_walked_in_order_skipping_hidden_and_other_files(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    write(root / "b.txt", "B")
    write(root / "a" / "z.md", "# Z")
    write(root / "a" / "deeper" / "y.txt", "Y")
    jsonl(root / "a" / "x.jsonl", {"id": "x1", "text": "X1"}, {"id": "x2", "text": "X2"})
    write(root / "logo.png", b"\x89PNG")
    write(root / ".git" / "config.txt", "hidden directory")
    write(root / ".draft.md", "hidden file")
    gathered = read_documents([root, write(tmp_path / "extra.txt", "E")])
    # Sorted by path: a/deeper/y.txt, a/x.jsonl, a/z.md, b.txt; then the next argument.
    assert [d.id for d in gathered.documents] == ["y", "x1", "x2", "z", "b", "extra"]
    assert gathered.skipped == [root / "logo.png"]


def test_a_missing_path(tmp_path: Path) -> None:
    assert refused(tmp_path / "nope") == f"{tmp_path / 'nope'}: no such file or directory"


def test_an_unsupported_file_given_by_name(tmp_path: Path) -> None:
    path = write(tmp_path / "manual.pdf", b"%PDF")
    assert refused(path) == (
        f"{path}: unsupported file type '.pdf'; give .txt, .md or .jsonl files, "
        "or directories of them"
    )


def test_empty_documents_are_skipped_and_named(tmp_path: Path) -> None:
    blank = write(tmp_path / "blank.md", " \n\n")
    lines = jsonl(
        tmp_path / "cran.jsonl",
        {"id": "470", "text": "Flow over a wedge."},
        {"id": "471", "text": ""},
        {"id": "472", "title": "no text", "text": " \n "},
    )
    gathered = read_documents([blank, lines])
    assert [d.id for d in gathered.documents] == ["470"]
    assert gathered.empty == ["blank", "471", "472"]


def test_the_warning_counts_empty_documents_and_names_the_first_few() -> None:
    assert empty_warning(["471"]) == "skipped 1 empty document (nothing to index): 471"
    assert empty_warning([str(i) for i in range(1, 8)]) == (
        "skipped 7 empty documents (nothing to index): 1, 2, 3, 4, 5 and 2 more"
    )


def test_a_text_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "latin.txt", b"caf\xe9 au lait")
    assert refused(path) == f"{path}: not UTF-8 text (invalid continuation byte at byte 3)"


def test_duplicate_ids_across_files_name_both(tmp_path: Path) -> None:
    first = write(tmp_path / "a" / "intro.md", "# Intro")
    second = write(tmp_path / "b" / "intro.txt", "Intro again")
    assert refused(tmp_path) == (
        f"duplicate document id 'intro': in {first} and in {second}; "
        "ids must be unique within a collection"
    )


def test_duplicate_ids_within_a_jsonl_file_name_the_lines(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "d.jsonl", {"id": "a", "text": "1"}, {"id": "a", "text": "2"})
    assert refused(path).startswith(
        f"duplicate document id 'a': in {path} line 1 and in {path} line 2;"
    )
