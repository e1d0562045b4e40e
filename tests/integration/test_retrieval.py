"""The retrieval agent on real worker processes, sharing a data directory with the test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agents.collections import write_collection
from agents.documents import Document
from orchestrator.client import Client
from orchestrator.errors import PlanError
from orchestrator.settings import Settings
from tests.support.helpers import needs_dense

KB = [
    Document("reset", "Reset a password", "Reset a forgotten password with the emailed link."),
    Document("billing", "Billing", "Invoices are sent monthly."),
    Document("rules", "Password rules", "Passwords need twelve characters."),
]


def search_plan(
    query: str, collection: str = "kb", k: int = 2, mode: str = "bm25"
) -> dict[str, Any]:
    return {
        "steps": [
            {
                "id": "search",
                "agent": "retrieval",
                "input": {"query": query, "collection": collection, "k": k, "mode": mode},
            },
            # A downstream step reads a hit, as a generation step would.
            {
                "id": "best",
                "agent": "echo",
                "input": {"text": {"$from": "search", "path": "hits.0.title"}},
            },
        ],
        "answer_from": "search",
    }


def test_a_retrieval_step_searches_the_shared_collection_and_sees_rebuilds(
    isolated: Callable[..., Settings], tmp_path: Path
) -> None:
    write_collection(tmp_path, "kb", KB)
    live = isolated(workers=1, data_dir=tmp_path)
    with Client(live) as client:
        assert "retrieval" in client.known_agents()
        result = client.submit(plan=search_plan("how to reset my password")).wait(timeout=60)
        assert result.status == "succeeded", result.error
        hits = result.answer["hits"] if result.answer else []
        assert [hit["id"] for hit in hits] == ["reset", "rules"]
        assert hits[0]["title"] == "Reset a password"
        assert hits[0]["text"] == KB[0].text
        assert hits[0]["score"] > hits[1]["score"] > 0
        assert result.steps["best"].output == {"text": "Reset a password"}

        # Rebuilt while the worker holds the old index in memory: the next step sees it.
        write_collection(tmp_path, "kb", [Document("sso", "Single sign-on", "Password-free.")])
        again = client.submit(plan=search_plan("password")).wait(timeout=60)
        assert again.status == "succeeded", again.error
        hits = again.answer["hits"] if again.answer else []
        assert [(hit["id"], hit["title"], hit["text"]) for hit in hits] == [
            ("sso", "Single sign-on", "Password-free.")
        ]
        assert hits[0]["score"] > 0

        missing = client.submit(plan=search_plan("password", collection="faq")).wait(timeout=60)
        assert missing.status == "failed"
        step = missing.steps["search"]
        assert (step.status, step.attempts) == ("failed", 1)  # permanent: not retried
        assert step.error == (
            f"no collection 'faq' in {tmp_path / 'collections'} (collections there: kb); "
            "create it with `celeriac index faq PATH...`"
        )
        assert missing.steps["best"].status == "skipped"

        with pytest.raises(PlanError) as caught:
            client.submit(plan=search_plan("password", k=0))
        assert str(caught.value) == (
            "step 'search': input is invalid for agent 'retrieval': "
            "k: Input should be greater than or equal to 1"
        )


@needs_dense
def test_a_hybrid_retrieval_step_finds_a_paraphrase(
    isolated: Callable[..., Settings], tmp_path: Path
) -> None:
    write_collection(tmp_path, "kb", KB, embeddings=True)
    write_collection(tmp_path, "plain", KB)
    live = isolated(workers=1, data_dir=tmp_path)
    with Client(live) as client:
        # No word in common with the documents: BM25 finds nothing, the embeddings do.
        query = "I can't remember my login secret"
        result = client.submit(plan=search_plan(query, mode="hybrid")).wait(timeout=60)
        assert result.status == "succeeded", result.error
        hits = result.answer["hits"] if result.answer else []
        assert hits[0]["id"] == "reset" and hits[0]["score"] > 0
        assert result.steps["best"].output == {"text": "Reset a password"}

        plain = client.submit(plan=search_plan(query, "plain", mode="dense")).wait(timeout=60)
        assert plain.status == "failed"
        step = plain.steps["search"]
        assert (step.status, step.attempts) == ("failed", 1)  # permanent: not retried
        assert step.error is not None
        assert step.error.startswith("collection 'plain' was built without embeddings")
