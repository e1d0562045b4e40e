"""Whether a plan can run on the live workers, from what they publish."""

from __future__ import annotations

from typing import Any

from agents.registry import load_registry
from agents.translation import Translation
from orchestrator.models import Plan, Step
from orchestrator.planning.readiness import published, unready

AGENTS = load_registry()
APERTIUM = {"engine": "apertium", "pairs": ["eng-spa", "spa-eng"]}


def worker(**capabilities: Any) -> dict[str, Any]:
    return {"agents": sorted(capabilities), "capabilities": capabilities}


def translate(target: str, source: str | None = "en", step_id: str = "t") -> Plan:
    data: dict[str, Any] = {"text": "Hello.", "target_lang": target}
    if source:
        data["source_lang"] = source
    return Plan(steps=[Step(id=step_id, agent="translation", input=data)])


def test_a_pair_no_worker_has_is_named_with_what_to_install() -> None:
    problem = unready(translate("ca"), AGENTS, [worker(translation=APERTIUM)])
    assert problem is not None and (problem.step_id, problem.agent) == ("t", "translation")
    assert str(problem).startswith("step 't' cannot run on any live translation worker: ")
    assert "Apertium cannot translate eng to cat" in str(problem)
    assert "installed pairs: eng-spa, spa-eng" in str(problem)
    assert "apt-get install apertium-eng-cat" in str(problem)
    assert unready(translate("es"), AGENTS, [worker(translation=APERTIUM)]) is None
    assert unready(translate("es", source=None), AGENTS, [worker(translation=APERTIUM)]) is None
    assert "translates into cat" in str(
        unready(translate("ca", source=None), AGENTS, [worker(translation=APERTIUM)])
    )


def test_one_able_worker_is_enough() -> None:
    others = [worker(translation=APERTIUM), worker(translation={"engine": "llm:test-model"})]
    assert unready(translate("ca"), AGENTS, others) is None
    missing = {"engine": "apertium", "missing": "Apertium is not installed on this worker"}
    problem = unready(translate("es"), AGENTS, [worker(translation=missing)])
    assert "Apertium is not installed on this worker" in str(problem)


def test_what_cannot_be_told_before_the_run_is_left_to_the_run() -> None:
    referenced = Plan(
        steps=[
            Step(id="a", agent="echo", input={"text": "x"}),
            Step(id="t", agent="translation", input={"text": {"$from": "a"}, "target_lang": "ca"}),
        ]
    )
    assert unready(referenced, AGENTS, [worker(translation=APERTIUM)]) is None
    old_worker = {"agents": ["translation"]}  # publishes no capabilities
    assert unready(translate("ca"), AGENTS, [old_worker]) is None
    assert unready(translate("ca"), {}, [worker(translation=APERTIUM)]) is None  # not importable
    assert unready(translate("ca"), AGENTS, []) is None  # validation says nobody serves it


def test_dense_retrieval_needs_the_extra_on_the_worker() -> None:
    plan = Plan(
        steps=[
            Step(
                id="s",
                agent="retrieval",
                input={"query": "wings", "collection": "demo", "mode": "hybrid"},
            )
        ]
    )
    assert "celeriac[dense]" in str(unready(plan, AGENTS, [worker(retrieval={"dense": False})]))
    assert unready(plan, AGENTS, [worker(retrieval={"dense": True})]) is None


def test_a_failing_capabilities_hook_publishes_nothing_for_its_type() -> None:
    class Broken(Translation):
        @classmethod
        def capabilities(cls, model: Any) -> dict[str, Any]:
            raise RuntimeError("boom")

    found = published(
        {"translation": Broken, "retrieval": AGENTS["retrieval"]},
        ["translation", "retrieval"],
        None,
    )
    assert list(found) == ["retrieval"]
