"""The ``keywords`` agent: the words that say what a text is about, offline.

Words are ranked by how often they occur in the text, leaving out English function
words; ties keep the order in which the words first appear. The agent scores its own
output (``score``): against reference keywords when the plan gives them, else by the
share of the text's sentences that the keywords touch.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from agents import Agent, StepContext
from agents.scoring import Score, ScoreContext

# A few English function words; a real package would use a library's list.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
    ]
)


class KeywordsInput(BaseModel):
    text: str = Field(min_length=1, max_length=1_000_000, description="The text to read.")
    k: int = Field(default=5, ge=1, le=50, description="How many keywords at most.")


class KeywordsOutput(BaseModel):
    keywords: list[str] = Field(description="The keywords, the most frequent first.")
    text: str = Field(description="The keywords as one comma-separated line.")


class Keywords(Agent):
    name = "keywords"
    description = (
        "Extracts the keywords of a text (the words it uses most, function words left out), "
        "offline. Input: `text` and `k` (how many, default 5). Output: `keywords`, a list, "
        "and `text`, the same as one comma-separated line."
    )
    Input = KeywordsInput
    Output = KeywordsOutput

    def run(self, input: KeywordsInput, context: StepContext) -> KeywordsOutput:
        words = [w for w in _words(input.text) if w not in STOPWORDS]
        first = {word: i for i, word in reversed(list(enumerate(words)))}
        counts = Counter(words)
        ranked = sorted(counts, key=lambda word: (-counts[word], first[word]))[: input.k]
        context.progress(1.0, f"{len(ranked)} keywords")
        return KeywordsOutput(keywords=ranked, text=", ".join(ranked))

    def score(
        self,
        input: KeywordsInput,
        output: KeywordsOutput,
        reference: Mapping[str, Any] | None,
        context: ScoreContext,
    ) -> list[Score]:
        """``keyword_f1`` against the plan's reference ``{"keywords": [...]}``; without
        one, ``sentence_coverage``: the share of sentences with a keyword (a proxy)."""
        found = set(output.keywords)
        if reference and reference.get("keywords"):
            wanted = {str(word).lower() for word in reference["keywords"]}
            both = len(found & wanted)
            f1 = 2 * both / (len(found) + len(wanted)) if found or wanted else 1.0
            return [Score(name="keyword_f1", value=f1, method="exact match")]
        sentences = [s for s in re.split(r"[.!?]+", input.text) if s.strip()]
        touched = sum(bool(found & set(_words(sentence))) for sentence in sentences)
        coverage = touched / len(sentences) if sentences else 0.0
        return [Score(name="sentence_coverage", value=coverage, method="lexical", proxy=True)]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z'-]+", text.lower())
