"""agents/llm/jsonstream.py: a string field decoded as its JSON streams in."""

from __future__ import annotations

import json

import pytest

from agents.llm.jsonstream import StringField

DOCUMENTS = [
    {"answered": True, "text": 'Open "Settings" \\ then Reset.\nDone: ñ € 😀', "citations": ["a"]},
    {"text": "", "short_answer": "text"},
    {"short_answer": 'no "text": here', "text": "the answer", "nested": {"text": "not it"}},
]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("ascii_only", [True, False])
def test_every_cut_of_the_json_gives_the_field_once(document: object, ascii_only: bool) -> None:
    raw = json.dumps(document, ensure_ascii=ascii_only)
    expected = json.loads(raw)["text"]
    for size in (1, 2, 3, 7, len(raw)):
        seen: list[str] = []
        field = StringField("text", seen.append)
        for start in range(0, len(raw), size):
            field.feed(raw[start : start + size])
        assert "".join(seen) == expected


def test_a_reply_without_the_field_gives_nothing() -> None:
    seen: list[str] = []
    field = StringField("text", seen.append)
    field.feed('{"answered": false, "citations": []}')
    assert seen == []
