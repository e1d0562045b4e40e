"""One string field of a JSON object, decoded as the object streams in.

A model answering with structured output writes JSON: to hand on its answer as it is
written, the answer's field is picked out of the pieces as they arrive.

>>> seen = []
>>> field = StringField("text", seen.append)
>>> for piece in ['{"answered": true, "te', 'xt": "Open \\\\"Sett', 'ings\\\\"."}']:
...     field.feed(piece)
>>> "".join(seen)
'Open "Settings".'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class StringField:
    """Feeds ``sink`` the decoded value of the top-level string field ``name``, piece by
    piece, from the JSON text it is ``feed``-ed (the first such field; the rest is ignored)."""

    def __init__(self, name: str, sink: Callable[[str], None]) -> None:
        self._opening = re.compile(r"[{,]\s*" + re.escape(json.dumps(name)) + r'\s*:\s*"')
        self.sink = sink
        self._buffer = ""
        self._state = "before"  # before the value, inside it, after it

    def feed(self, piece: str) -> None:
        self._buffer += piece
        if self._state == "before":
            found = self._opening.search(self._buffer)
            if found is None:
                return
            self._buffer = self._buffer[found.end() :]
            self._state = "inside"
        if self._state == "inside":
            self._decode()

    def _decode(self) -> None:
        out, i, text = [], 0, self._buffer
        while i < len(text):
            char = text[i]
            if char == '"':
                self._state = "after"
                break
            if char != "\\":
                out.append(char)
                i += 1
                continue
            if i + 1 >= len(text):
                break  # the rest of the escape is in the next piece
            if text[i + 1] == "u":
                code, used = _unicode_escape(text, i)
                if code is None:
                    break
                out.append(chr(code))
                i += used
                continue
            out.append(_ESCAPES.get(text[i + 1], text[i + 1]))
            i += 2
        self._buffer = "" if self._state == "after" else text[i:]
        if out:
            self.sink("".join(out))


def _unicode_escape(text: str, i: int) -> tuple[int | None, int]:
    """The code point of the ``\\uXXXX`` escape at ``i`` (with its low surrogate after
    it, for a character beyond the BMP) and the characters it used; None while the piece
    ends before it does."""
    if i + 6 > len(text):
        return None, 0
    code = int(text[i + 2 : i + 6], 16)
    if not 0xD800 <= code < 0xDC00:
        return code, 6
    if i + 12 > len(text):
        return None, 0
    if text[i + 6 : i + 8] != "\\u":
        return 0xFFFD, 6  # a high surrogate alone: JSON allows it, text cannot hold it
    low = int(text[i + 8 : i + 12], 16)
    return 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00), 12
