"""The one retry policy: how long to wait before trying again.

Model calls retried within a step (``agents.llm.retrying``), steps retried by the
worker and plans retried by the engine all wait this long: exponential backoff from
``base`` seconds, capped at ``maximum``, with jitter, and never sooner than a
``Retry-After`` the other side gave.
"""

from __future__ import annotations

import random


def backoff_delay(base: float, maximum: float, attempt: int, retry_after: float | None) -> float:
    """The wait before try ``attempt + 1`` (``attempt`` counts from 1): half to all of
    ``min(maximum, base * 2 ** (attempt - 1))``, so tries that failed together do not
    come back together; at least ``retry_after`` (see ``after_retry_after``)."""
    delay = min(maximum, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
    return after_retry_after(delay, retry_after)


def after_retry_after(delay: float, retry_after: float | None) -> float:
    """``delay``, but never sooner than the endpoint asked, plus up to a fifth more, so
    clients told the same ``Retry-After`` do not all come back at the same moment."""
    if retry_after is None:
        return delay
    return max(delay, retry_after * random.uniform(1.0, 1.2))
