"""Apertium, the offline translation engine: installed pairs, and segments in, segments out.

Segments go through one run of a pair's pipeline in null-flush mode (``-z``), each ended by
a NUL: every stage flushes at a NUL, so words never drift from one segment into the next
and each segment comes back on its own, in order. Not every stage forgets at a NUL:
``apertium-tagger``'s HMM carries some state over, so a segment's tags can depend on the
segments before it in the run (15 of 1,000 FLORES lines differ between runs of 20,000 and
of 50,000 characters, "Siguió" / "Seguido"; chrF moves by 0.01). A run per segment would
cost ~0.1 s each. The ``apertium`` wrapper script is not
used: its txt format ends a sentence only at a blank line, so words drift across single
line breaks, and its ``line`` format drops sentence-final periods. Each segment is sent as
Apertium's own txt deformatter sends a paragraph (special characters escaped, ``~`` in a
superblank, a final ``.[]`` so the last sentence is closed) and the final ``.[]`` is taken
off again, as its reformatter does.

One run costs ~0.1 s to start and then translates ~1,000 segments a second; a text is sent
in batches of at most ``BATCH_CHARS`` characters, each run with a timeout.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from agents.errors import PermanentError, TransientError
from agents.languages import known

DATA_DIRS = (Path("/usr/share/apertium"), Path("/usr/local/share/apertium"))
NEEDED = ("lt-proc", "apertium-tagger", "apertium-wblank-mode")
INSTALL = "install the Debian packages: apt-get install apertium apertium-eng-spa"
BATCH_CHARS = 50_000
# Generous: eng-spa does ~90,000 characters a second here; this allows 2,000.
START_SECONDS = 20.0
SECONDS_PER_KCHAR = 0.5

_MODE_NAME = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})$")
_SPECIAL = re.compile(r"([\\\[\]^$/@<>{}])")
_SPACES = re.compile(r" {2,}")
_STREAM = re.compile(r"\\(.)|[\[\]]", re.DOTALL)


@dataclass(frozen=True)
class Pair:
    """An installed translation direction, e.g. ``Pair("eng", "spa", "eng-spa", path)``."""

    source: str
    target: str
    name: str
    mode: Path


def pairs(data_dirs: Iterable[Path] = DATA_DIRS) -> dict[tuple[str, str], Pair]:
    """Installed pairs by (source, target) ISO 639-3 codes; re-read when a modes dir changes."""
    stamps = []
    for data_dir in data_dirs:
        try:
            stamps.append((data_dir / "modes", (data_dir / "modes").stat().st_mtime_ns))
        except OSError:
            continue
    return _pairs(tuple(stamps))


@lru_cache(maxsize=8)
def _pairs(stamps: tuple[tuple[Path, int], ...]) -> dict[tuple[str, str], Pair]:
    found: dict[tuple[str, str], Pair] = {}
    for modes, _ in stamps:
        for mode in sorted(modes.glob("*.mode")):
            match = _MODE_NAME.fullmatch(mode.stem)
            source, target = (known(code) for code in match.groups()) if match else (None, None)
            if source and target and (source, target) not in found:
                found[source, target] = Pair(source, target, mode.stem, mode)
    return found


def describe(installed: dict[tuple[str, str], Pair]) -> str:
    """The installed pairs for a message: ``"eng-spa, spa-eng"`` or ``"none"``."""
    return ", ".join(sorted(f"{s}-{t}" for s, t in installed)) or "none"


def is_installed() -> bool:
    """True when Apertium's programs are on PATH."""
    return not _missing()


def _missing() -> list[str]:
    return [program for program in NEEDED if shutil.which(program) is None]


def check_installed() -> None:
    """Raise ``PermanentError`` saying what to install when Apertium's programs are missing."""
    missing = _missing()
    if missing:
        raise PermanentError(
            f"Apertium is not installed on this worker (no {', '.join(missing)}): {INSTALL}, "
            "or configure a language model (OPENAI_API_KEY or OPENAI_BASE_URL)"
        )


@lru_cache(maxsize=32)
def pipeline(mode: Path) -> str:
    """The shell pipeline of a mode with null flush on every stage."""
    done = subprocess.run(
        ["apertium-wblank-mode", "-z", str(mode)], capture_output=True, text=True, timeout=30
    )
    if done.returncode != 0 or "|" not in done.stdout:
        raise PermanentError(f"Apertium mode {mode} is unreadable: {done.stderr.strip()}")
    return done.stdout.strip()


def encode(segment: str) -> str:
    """One segment in Apertium's stream format, closed as a paragraph."""
    return _SPECIAL.sub(r"\\\1", segment).replace("~", "[~]") + ".[]\0"


def decode(translated: str) -> str:
    """A translated segment back to plain text: the closing ``.[]`` and the escapes removed."""
    if translated.endswith(".[]"):
        translated = translated[:-3]
    return _STREAM.sub(lambda match: match.group(1) or "", translated)


def run(command: str, segments: Sequence[str], timeout: float) -> list[str]:
    """Pass ``segments`` through one run of a null-flush pipeline; one output per segment.

    ``$1`` of the pipeline is the generator's flag: ``-n`` drops the ``*`` of unknown words.
    A run over ``timeout`` seconds is killed (all its stages) and is a ``TransientError``.
    """
    data = "".join(encode(segment) for segment in segments).encode()
    with subprocess.Popen(
        ["bash", "-c", command, "apertium", "-n", ""],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # so a timeout can kill every stage, not only bash
    ) as process:
        try:
            out, err = process.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise TransientError(
                f"Apertium took over {timeout:.0f} s for {len(segments)} segments "
                f"({len(data):,} bytes) and was stopped"
            ) from None
    parts = out.decode("utf-8", errors="replace").split("\0")
    # Every stage passes on one more NUL when its input ends: those parts are empty.
    if process.returncode != 0 or any(parts[len(segments) :]) or len(parts) < len(segments):
        raise PermanentError(
            f"Apertium failed (exit {process.returncode}) on a batch of {len(segments)} "
            f"segments: {err.decode(errors='replace').strip()[-500:] or 'output out of step'}"
        )
    return [decode(part) for part in parts[: len(segments)]]


def batches(segments: Sequence[str], limit: int = BATCH_CHARS) -> list[list[str]]:
    """Consecutive runs of segments of at most ``limit`` characters (a longer one alone)."""
    out: list[list[str]] = []
    size = limit
    for segment in segments:
        if size + len(segment) > limit:
            out.append([])
            size = 0
        out[-1].append(segment)
        size += len(segment)
    return out


def translate(
    pair: Pair,
    segments: Sequence[str],
    *,
    batch_chars: int = BATCH_CHARS,
    progress: Callable[[int], None] = lambda done: None,
) -> list[str]:
    """Translate ``segments`` in order; ``progress`` gets the count done after each batch."""
    check_installed()
    command = pipeline(pair.mode)
    translated: list[str] = []
    for batch in batches(segments, batch_chars):
        timeout = START_SECONDS + SECONDS_PER_KCHAR * sum(map(len, batch)) / 1000
        translated += run(command, batch, timeout)
        progress(len(translated))
    return [tidy(source, out) for source, out in zip(segments, translated, strict=True)]


def tidy(source: str, translated: str) -> str:
    """Spaces left where Apertium dropped a word (a subject pronoun, a relative) removed."""
    translated = translated.strip()
    return translated if "  " in source else _SPACES.sub(" ", translated)


def coverage(pair: Pair, sample: str) -> float:
    """The share of ``sample``'s words that the pair's source analyser knows (0 to 1)."""
    check_installed()
    analyser = pipeline(pair.mode).split(" | ", 1)[0]
    [analysed] = run(analyser, [sample], START_SECONDS)
    words = analysed.count("^")
    unknown = analysed.count("^*") + analysed.count("/*")
    return 1.0 - unknown / words if words else 0.0
