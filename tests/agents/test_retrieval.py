"""The retrieval agent, called directly: inputs, hits, errors, and reloading a rebuilt index."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import agents.collections
import agents.retrieval
from agents.base import StepContext
from agents.collections import Collection, write_collection
from agents.documents import Document
from agents.errors import CollectionError, PermanentError
from agents.llm import LLMPermanentError, ScriptedChatModel
from agents.registry import check_agent_class, load_registry
from agents.retrieval import Hit, Retrieval, RetrievalInput, RetrievalOutput

KB = [
    Document("reset", "Reset a password", "Reset a forgotten password with the email link."),
    Document("billing", "Billing", "Invoices are sent monthly by email."),
    Document("rules", "Password rules", "Passwords need twelve characters."),
    Document("router", "Router", "Resetting the router fixes connection problems."),
]


def context(data_dir: Path) -> StepContext:
    return StepContext(job_id="j", step_id="s", attempt=1, agent="retrieval", data_dir=data_dir)


def search(agent: Retrieval, data_dir: Path, query: str, **fields: Any) -> RetrievalOutput:
    payload = {"query": query, "collection": "kb", **fields}
    return agent.run(RetrievalInput.model_validate(payload), context(data_dir))


def invalid(**fields: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        RetrievalInput.model_validate({"query": "password", "collection": "kb", **fields})
    return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in caught.value.errors()]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    write_collection(tmp_path, "kb", KB)
    return tmp_path


def test_it_is_a_registered_agent_with_a_description() -> None:
    check_agent_class(Retrieval)
    assert load_registry()["retrieval"] is Retrieval  # the celeriac.agents entry point
    assert "celeriac index NAME PATH" in Retrieval.description


def test_hits_are_ranked_with_stemming(data_dir: Path) -> None:
    output = search(Retrieval(), data_dir, "How do I reset my passwords?", k=3)
    assert output.hits[0].id == "reset"
    assert {hit.id for hit in output.hits} == {"reset", "rules", "router"}
    first = output.hits[0]
    assert first == Hit(id="reset", title=KB[0].title, text=KB[0].text, score=first.score)
    scores = [hit.score for hit in output.hits]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0


def test_k_limits_hits_and_may_exceed_the_collection(data_dir: Path) -> None:
    agent = Retrieval()
    assert len(search(agent, data_dir, "password reset email", k=1).hits) == 1
    assert len(search(agent, data_dir, "password reset email").hits) == 4  # k defaults to 5
    assert len(search(agent, data_dir, "password reset email", k=100).hits) == 4


def test_words_the_collection_lacks_find_nothing(data_dir: Path) -> None:
    assert search(Retrieval(), data_dir, "zebra giraffe").hits == []


def test_a_query_with_no_searchable_words(data_dir: Path) -> None:
    with pytest.raises(PermanentError) as caught:
        search(Retrieval(), data_dir, "to be, or not to be?")
    assert str(caught.value) == (
        "the query 'to be, or not to be?' has no searchable words (only stopwords, "
        "punctuation or single letters): give some content words"
    )


def test_an_unknown_collection(data_dir: Path) -> None:
    with pytest.raises(CollectionError) as caught:
        search(Retrieval(), data_dir, "password", collection="faq")
    assert isinstance(caught.value, PermanentError)  # the step fails without retries
    assert str(caught.value) == (
        f"no collection 'faq' in {data_dir / 'collections'} (collections there: kb); "
        "create it with `celeriac index faq PATH...`"
    )


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ({"query": ""}, ["query: Value error, the query is empty: give the words to search for"]),
        (
            {"query": " \n\t"},
            ["query: Value error, the query is empty: give the words to search for"],
        ),
        ({"query": "x" * 10_001}, ["query: String should have at most 10000 characters"]),
        ({"k": 0}, ["k: Input should be greater than or equal to 1"]),
        ({"k": -3}, ["k: Input should be greater than or equal to 1"]),
        ({"k": 101}, ["k: Input should be less than or equal to 100"]),
        ({"k": 2.5}, ["k: Input should be a valid integer, got a number with a fractional part"]),
        (
            {"collection": "My KB"},
            [
                "collection: Value error, 'My KB' is not a collection name: use 1-64 lowercase "
                "letters, digits, '-' and '_', starting with a letter or digit"
            ],
        ),
        ({"mode": "sparse"}, ["mode: Input should be 'bm25', 'dense', 'hybrid' or 'auto'"]),
        ({"kind": "dense"}, ["kind: Extra inputs are not permitted"]),
    ],
)
def test_bad_input_is_refused(fields: dict[str, Any], problems: list[str]) -> None:
    assert invalid(**fields) == problems


def test_missing_input_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        RetrievalInput.model_validate({"k": 3})
    assert {e["loc"][0] for e in caught.value.errors()} == {"query", "collection"}


def test_a_rebuilt_collection_is_reloaded_and_an_unchanged_one_is_not(data_dir: Path) -> None:
    agent = Retrieval()
    assert search(agent, data_dir, "router").hits[0].id == "router"
    first = agent.collections.get(data_dir, "kb")
    assert agent.collections.get(data_dir, "kb") is first  # unchanged: not loaded again

    write_collection(data_dir, "kb", [Document("modem", "Modem", "Restart the modem or router.")])
    output = search(agent, data_dir, "router")
    assert [hit.id for hit in output.hits] == ["modem"]
    assert agent.collections.get(data_dir, "kb") is not first


def test_threads_at_first_use_load_a_collection_once(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []
    real_load = agents.collections.load_collection

    def counting_load(where: Path, name: str) -> Collection:
        loads.append(name)
        return real_load(where, name)

    monkeypatch.setattr(agents.retrieval, "load_collection", counting_load)
    agent = Retrieval()
    start = threading.Barrier(16)
    results: list[list[str]] = []

    def query() -> None:
        start.wait(timeout=10)
        results.append([hit.id for hit in search(agent, data_dir, "password rules", k=2).hits])

    threads = [threading.Thread(target=query) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["kb"]
    assert results == [["rules", "reset"]] * 16


def with_model(data_dir: Path, model: ScriptedChatModel) -> StepContext:
    return StepContext(
        job_id="j", step_id="s", attempt=1, agent="retrieval", data_dir=data_dir, model=model
    )


def test_a_model_adds_keywords_that_find_what_the_words_alone_miss(data_dir: Path) -> None:
    agent = Retrieval()
    payload = RetrievalInput(query="I cannot log in any more", collection="kb", k=2)
    offline = agent.run(payload, context(data_dir))
    assert offline.hits == [] and offline.rewritten is None  # no word of it is in the KB
    model = ScriptedChatModel(['{"keywords": "forgotten password reset"}'])
    output = agent.run(payload, with_model(data_dir, model))
    assert output.rewritten == "forgotten password reset"
    assert output.hits[0].id == "reset"
    assert model.calls[0]["messages"][-1].content == "I cannot log in any more"


def test_a_failing_model_does_not_fail_the_search(data_dir: Path) -> None:
    model = ScriptedChatModel([LLMPermanentError("401: bad key")])
    output = Retrieval().run(
        RetrievalInput(query="reset password", collection="kb"), with_model(data_dir, model)
    )
    assert output.rewritten is None and output.hits[0].id == "reset"
