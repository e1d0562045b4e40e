"""Text as a reader sees it: the units (headings, sentences, list items, table rows) of a
plain-text or Markdown document, each with its offsets in the source.

- Lines of one paragraph are joined: a line wrap never ends a sentence.
- A heading (``# Title``, or a line underlined with ``===`` / ``---``), a table row and a
  list item each stand on their own; so does a line that opens with a speaker's label
  (``Customer: ...``, ``#Person1#: ...``), as in dialogues and FAQs.
- Sentences are found by ``sentencex`` (rules for ~300 languages), so "e.g.", "0.20 euro"
  and "9:00" do not end one.
- Fenced code is not prose and yields nothing.

>>> [u.text for u in units("# Billing\\n\\nInvoices are sent by e-mail and can be\\ndownloaded.")]
['Billing', 'Invoices are sent by e-mail and can be downloaded.']
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import sentencex

Kind = Literal["heading", "sentence", "item", "row"]

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(?P<text>.*?)(?:[ \t]+#+)?[ \t]*$")
_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-{2,})[ \t]*$")
_ITEM = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]+")
# A speaker's label: "#Person1#:" always opens a turn; "Customer:" where a sentence ended.
_TAG = re.compile(r"^[ \t]*#\w+#:[ \t]*")
_LABEL = re.compile(r"^[ \t]*[A-Z][\w'-]*(?: [\w'-]+){0,2}:[ \t]+(?=\S)")
_ROW = re.compile(r"^[ \t]*\|.*\|[ \t]*$")
_RULE_ROW = re.compile(r"^[ \t]*\|?[ \t:|-]*-[ \t:|-]*$")
_FENCE = re.compile(r"^[ \t]*(?:```|~~~)")


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of a text: ``text`` (whitespace made single) is ``source[start:end]``."""

    start: int
    end: int
    text: str
    kind: Kind
    section: str  # the heading it stands under ("" before the first)
    key: str = ""  # a table row's first cell: what the row is about ("Same Day", "5 GB")


@dataclass(slots=True)
class _Block:
    start: int
    end: int
    kind: Kind


def units(text: str, language: str = "en") -> list[Unit]:
    """The units of ``text`` in reading order, headings included."""
    found: list[Unit] = []
    section = ""
    header: list[str] = []
    for block in _blocks(text):
        if block.kind == "heading":
            section = _clean(text[block.start : block.end])
            found.append(Unit(block.start, block.end, section, "heading", section))
        elif block.kind == "row":
            cells = _cells(text[block.start : block.end])
            if not header:
                header = cells
                continue
            shown = "; ".join(
                f"{name}: {cell}" if name else cell
                for name, cell in zip([*header, *[""] * len(cells)], cells, strict=False)
                if cell
            )
            found.append(Unit(block.start, block.end, shown, "row", section, cells[0]))
            continue
        else:
            found += _sentences(text, block, section, language)
        header = []
    return found


def _blocks(text: str) -> Iterator[_Block]:
    """The paragraphs, list items, rows and headings of ``text``, as offsets."""
    current: _Block | None = None
    in_code = False
    offset = 0
    for line in text.splitlines(keepends=True):
        start, offset = offset, offset + len(line)
        body = line.rstrip("\r\n")
        fence = bool(_FENCE.match(body))
        in_code ^= fence
        kind, block = _line(body, start, current, text)
        if kind == "text" and not (in_code or fence):
            if current is None:
                current = _Block(start, start + len(body), "sentence")
            else:
                current.end = start + len(body)
            continue
        if kind == "title" and current:  # the one line above is a heading
            current.kind = "heading"
        elif kind == "skip" and not (in_code or fence):
            continue  # a table's rule row: its table goes on
        if current:
            yield current
        current = None
        if in_code or fence:
            continue
        if kind == "opens":
            current = block
        elif block:
            yield block
    if current:
        yield current


def _line(body: str, start: int, current: _Block | None, text: str) -> tuple[str, _Block | None]:
    """What a line is: ("text", None) goes on the paragraph; "ends" it; "skip" is
    nothing; "title" makes the paragraph above a heading; "opens" starts a block; a
    block of its own (a heading, a row) comes with "ends"."""
    if not body.strip():
        return "ends", None
    if heading := _ATX_HEADING.match(body):
        text_span = (start + heading.start("text"), start + heading.end("text"))
        return "ends", _Block(*text_span, "heading") if heading.group("text") else None
    one_line = current is not None and "\n" not in text[current.start : current.end]
    if _UNDERLINE.match(body) and current and current.kind == "sentence" and one_line:
        return "title", None
    if _ROW.match(body):
        return "ends", None if _RULE_ROW.match(body) else _Block(start, start + len(body), "row")
    if _RULE_ROW.match(body) and "|" in body:
        return "skip", None
    if item := _ITEM.match(body):
        return "opens", _Block(start + item.end(), start + len(body), "item")
    if _TAG.match(body) or (_ended(text, current) and _LABEL.match(body)):
        return "opens", _Block(start, start + len(body), "sentence")
    return "text", None


def _ended(text: str, block: _Block | None) -> bool:
    """Whether ``block`` ends a sentence, so that a label on the next line opens a turn."""
    return block is None or text[block.end - 1] in ".!?:;\"')]…"


def _sentences(text: str, block: _Block, section: str, language: str) -> list[Unit]:
    # A line break becomes a space: the same length, so offsets stay those of the source.
    joined = text[block.start : block.end].replace("\r", " ").replace("\n", " ")
    found = []
    for boundary in sentencex.get_sentence_boundaries(language, joined):
        local = str(boundary["text"])
        start = block.start + int(boundary["start_index"])
        stripped = local.strip()
        if not stripped:
            continue
        start += len(local) - len(local.lstrip())
        found.append(Unit(start, start + len(stripped), _clean(stripped), block.kind, section))
    return found


def _cells(row: str) -> list[str]:
    return [_clean(cell) for cell in row.strip().strip("|").split("|")]


def _clean(text: str) -> str:
    return " ".join(text.split())
