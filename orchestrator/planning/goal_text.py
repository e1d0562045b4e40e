"""Reading a goal's words: the languages it names, the language it is written in.

>>> targets, rest = target_languages("Summarize the billing page and translate it into Spanish")
>>> targets, rest
(['spa'], 'Summarize the billing page')
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

from agents.languages import LANGUAGES

# English names (lower case) -> ISO 639-3, with a few other names people use.
_NAMES = {english.lower(): code for code, (_, english) in LANGUAGES.items()}
_NAMES.update(
    {
        "castilian": "spa",
        "farsi": "fas",
        "mandarin": "zho",
        "norwegian": "nob",
        "bokmal": "nob",
        "nynorsk": "nno",
        "flemish": "nld",
        "valencian": "cat",
    }
)
# ISO codes count as languages too, but not those that are also common English words.
_WORDS = {"am", "an", "be", "he", "hi", "id", "is", "it", "la", "ms", "no", "cat", "fin", "lit"}
_CODES = {
    code: three
    for three, (two, _) in LANGUAGES.items()
    for code in (two, three)
    if code and code not in _WORDS
}
_LANGUAGE = (
    r"(?:"
    + "|".join(sorted((re.escape(n) for n in [*_NAMES, *_CODES]), key=len, reverse=True))
    + r")"
)
_LIST = rf"{_LANGUAGE}(?:\s*(?:,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s+or\s+){_LANGUAGE})*"
TARGETS = re.compile(rf"\b(?:in|into|to)\s+(?P<list>{_LIST})\b(?!-)", re.IGNORECASE)
SOURCE = re.compile(rf"\s*\bfrom\s+(?P<lang>{_LANGUAGE})\b(?!-)", re.IGNORECASE)
# "translate into French: TEXT": a goal whose task is the translation itself.
TRANSLATE_ONLY = re.compile(r"^\W*(?:please\s+)?translate\b", re.IGNORECASE)
# Where the clause that names the target languages begins.
_CLAUSE_START = re.compile(r"[.!?;:]\s+|,\s*(?:and\s+|then\s+)?|\s+(?:and|then)\s+", re.I)
_TRANSLATE_VERBS = re.compile(
    r"\b(?:translat\w*|answer\w*|repl\w*|respond\w*|writ\w*|put|give|render|say)\b", re.I
)
_SPLIT = re.compile(r"\s*(?:,\s*(?:and\s+)?|\s+and\s+|&|\s+or\s+)\s*", re.IGNORECASE)
# "answer (them) in X", "reply in X", "translate it into X", "in the X language": what X is.
# Only a capitalized X counts ("answer in detail" names no language), and not the formats
# people ask answers in.
_ASKED_IN = re.compile(
    r"(?i:\b(?:(?:answer|repl|respond)\w*(?:\s+(?:them|him|her|me|us|back))?\s+in"
    r"|translat\w*(?:\s+(?:it|this|that|them|the\s+\w+))?\s+(?:in|into|to)))"
    r"\s+(?P<word>[A-Z][\w-]*)"
    r"|(?i:\bin\s+the\s+)(?P<named>[\w-]+)(?i:\s+language)\b"
)
_FORMATS = frozenset(
    [
        "markdown",
        "html",
        "json",
        "xml",
        "yaml",
        "csv",
        "latex",
        "plain",
        "bullet",
        "bullets",
        "table",
        "tables",
        "one",
        "two",
        "three",
        "short",
        "full",
        "brief",
        "detail",
        "writing",
    ]
)


def language_code(word: str) -> str | None:
    """The ISO 639-3 code of a language name (English) or code, or None."""
    word = word.strip().lower()
    return _NAMES.get(word) or _CODES.get(word)


def target_languages(goal: str) -> tuple[list[str], str]:
    """The languages a goal wants its answer in (ISO 639-3, in order), and the goal without
    the words that asked for them ("... and translate it into Spanish and Catalan")."""
    found: list[str] = []
    rest = goal
    while match := TARGETS.search(rest):
        for word in _SPLIT.split(match.group("list")):
            code = language_code(word)
            if code and code not in found:
                found.append(code)
        start = _clause_start(rest, match.start())
        if not _TRANSLATE_VERBS.search(rest[start : match.start()]):
            start = match.start()  # "explain X in Spanish": only "in Spanish" goes
        rest = (rest[:start].rstrip() + " " + rest[match.end() :].lstrip()).strip()
    return found, _tidy(rest)


def unknown_languages(goal: str) -> list[str]:
    """Words a goal asks its answer in that name no language celeriac knows:
    ``unknown_languages("Answer in Klingon.") == ["Klingon"]``."""
    unknown: list[str] = []
    for match in _ASKED_IN.finditer(goal):
        word = match.group("word") or match.group("named")
        if language_code(word) is None and word.lower() not in _FORMATS and word not in unknown:
            unknown.append(word)
    return unknown


def source_language(goal: str) -> tuple[str | None, str]:
    """The language a goal says its text is in ("from German"), and the goal without it."""
    match = SOURCE.search(goal)
    if match is None:
        return None, goal
    return language_code(match.group("lang")), _tidy(goal[: match.start()] + goal[match.end() :])


def _clause_start(text: str, before: int) -> int:
    start = 0
    for boundary in _CLAUSE_START.finditer(text, 0, before):
        start = boundary.start()
    return start


def _tidy(text: str) -> str:
    text = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s+", " ", text)).strip(" ,;")
    return text if re.search(r"\w", text) else ""


_loading = threading.Lock()


def _identifier() -> Any:
    with _loading:  # one load, however many threads ask at once
        return _load_identifier()


def load_identifier_in_background() -> None:
    """Start loading the language identifier (~1 s) in a daemon thread, for a process that
    will soon check a goal and has other waiting to do first (a Redis and workers to start)."""
    threading.Thread(target=_identifier, name="celeriac-langid", daemon=True).start()


@functools.cache
def _load_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # ~1 s: only when asked

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ours = {two for two, _ in LANGUAGES.values() if two}
    identifier.set_languages(sorted(ours & set(identifier.labels)))
    return identifier


def written_in(text: str) -> str:
    """The ISO 639-3 code of the language ``text`` is written in; ``eng`` unless another
    language is clearly more likely (short texts are taken as English)."""
    if len(re.findall(r"\w+", text)) < 3:
        return "eng"
    ranking = dict(_identifier().rank(text))
    best = max(ranking, key=ranking.__getitem__)
    if best != "en" and ranking[best] > 2 * ranking.get("en", 0.0):
        return language_code(best) or "eng"
    return "eng"
