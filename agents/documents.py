"""Reading the documents of a collection from files: text, Markdown, JSON Lines, directories.

- A ``.txt`` or ``.md`` file is one document: its id is the file's stem, its title the
  first Markdown heading (``# Title``), else its first non-empty line.
- Each non-blank line of a ``.jsonl`` file is one document,
  ``{"id": "faq-1", "title": "Reset a password", "text": "..."}``; ``title`` is optional
  (the first line of the text stands in) and other keys are ignored.
- A directory contributes every such file under it, in sorted order; hidden entries
  (``.git``) and files of other kinds are skipped, and reported as skipped.
- An empty document (a blank file, a line whose ``"text"`` is blank) is skipped and
  reported by id: real corpora have them (Cranfield's 471 and 995).

Any other problem is a ``CollectionError`` naming the file (and line).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agents.errors import CollectionError

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
JSONL_SUFFIXES = frozenset({".jsonl"})
TITLE_MAX_CHARS = 200
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Document:
    """One searchable document of a collection."""

    id: str
    title: str
    text: str


@dataclass
class Gathered:
    """The documents read from some paths, the files of other kinds that were skipped, and
    the ids of the empty documents that were skipped."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)


def without_empty(documents: Sequence[Document]) -> tuple[list[Document], list[str]]:
    """The documents with text, and the ids of those without (nothing to index)."""
    kept = [document for document in documents if document.text.strip()]
    return kept, [document.id for document in documents if not document.text.strip()]


def empty_warning(ids: Sequence[str], shown: int = 5) -> str:
    """One line that counts the empty documents skipped and names the first few."""
    named = ", ".join(ids[:shown]) + (f" and {len(ids) - shown} more" if len(ids) > shown else "")
    return f"skipped {len(ids)} empty document{'s' * (len(ids) != 1)} (nothing to index): {named}"


def read_documents(paths: Sequence[Path]) -> Gathered:
    """Every document under ``paths``; ids must be unique across all of them."""
    gathered = Gathered()
    origins: dict[str, str] = {}
    for path in paths:
        for file in _files(path, gathered.skipped):
            for document, origin in _read_file(file):
                if document.id in origins:
                    raise CollectionError(
                        f"duplicate document id {document.id!r}: in {origins[document.id]} "
                        f"and in {origin}; ids must be unique within a collection"
                    )
                origins[document.id] = origin
                gathered.documents.append(document)
    gathered.documents, gathered.empty = without_empty(gathered.documents)
    return gathered


def _files(path: Path, skipped: list[Path]) -> Iterator[Path]:
    if path.is_dir():
        yield from _walk(path, skipped)
    elif path.is_file():
        if _kind(path) is None:
            raise CollectionError(
                f"{path}: unsupported file type {path.suffix or '(no suffix)'!r}; "
                "give .txt, .md or .jsonl files, or directories of them"
            )
        yield path
    elif path.exists():
        raise CollectionError(f"{path}: neither a regular file nor a directory")
    else:
        raise CollectionError(f"{path}: no such file or directory")


def _walk(root: Path, skipped: list[Path]) -> list[Path]:
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [name for name in subdirs if not name.startswith(".")]
        found += [Path(directory) / name for name in files if not name.startswith(".")]
    found.sort(key=lambda path: path.relative_to(root).parts)
    skipped += [path for path in found if _kind(path) is None]
    return [path for path in found if _kind(path) is not None]


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return "text"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    return None


def _read_file(path: Path) -> Iterator[tuple[Document, str]]:
    if _kind(path) == "jsonl":
        yield from _read_jsonl(path)
    else:
        yield _read_text(path), str(path)


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CollectionError(
            f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CollectionError(f"cannot read {path}: {exc.strerror}") from None


def _read_text(path: Path) -> Document:
    text = _decode(_read_bytes(path), str(path)).removeprefix("\ufeff").strip()
    heading = _HEADING.search(text) if path.suffix.lower() != ".txt" else None
    title = heading.group(1) if heading else first_line(text)
    return Document(id=path.stem, title=_shorten(title), text=text)


def _read_jsonl(path: Path) -> Iterator[tuple[Document, str]]:
    try:
        with path.open("rb") as lines:
            for number, raw in enumerate(lines, 1):
                where = f"{path} line {number}"
                line = _decode(raw, where)
                if number == 1:
                    line = line.removeprefix("\ufeff")
                if line.strip():
                    yield _jsonl_document(line, where), where
    except OSError as exc:
        raise CollectionError(f"cannot read {path}: {exc.strerror}") from None


def _jsonl_document(line: str, where: str) -> Document:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CollectionError(
            f"{where}: not valid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    if not isinstance(record, dict):
        raise CollectionError(
            f'{where}: expected a JSON object such as {{"id": "a1", "text": "..."}}, '
            f"got {type(record).__name__}"
        )
    doc_id = record.get("id")
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise CollectionError(f'{where}: "id" must be a non-empty string, got {doc_id!r}')
    text = record.get("text")
    if not isinstance(text, str):
        raise CollectionError(f'{where}: "text" must be a string, got {_brief(text)}')
    title = record.get("title")
    if title is not None and not isinstance(title, str):
        raise CollectionError(f'{where}: "title" must be a string, got {_brief(title)}')
    text = text.strip()
    return Document(id=doc_id, title=_shorten(title or first_line(text)), text=text)


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _shorten(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= TITLE_MAX_CHARS else title[: TITLE_MAX_CHARS - 1] + "…"


def _brief(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:39] + "…"
