"""GET /v1/jobs/{id}/events: Server-Sent Events, resumed exactly once, also on another
gateway after the first was killed; a client that leaves leaves nothing behind, and one
that stalls holds up nobody and loses nothing."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from typing import Any

import httpx
import redis

from orchestrator import names
from orchestrator.embedded.redis_server import free_ports
from orchestrator.settings import Settings
from tests.orchestrator.service.conftest import SSE, Gateway, plan_of, read_sse
from tests.support.helpers import http_get, wait_for
from tests.support.llm_server import LLMServer, Reply
from tests.support.sample_agents import TEST_PREFIX, chatty_lines


def stream_ids(r: redis.Redis, job_id: str) -> list[str]:
    entries: Any = r.xrange(names.events_key(job_id))
    return [str(entry_id) for entry_id, _ in entries]


def events_until(
    api: httpx.Client, job_id: str, stop: Callable[[SSE], bool], after: str | None = None
) -> list[SSE]:
    """The events from the start (or ``after``) up to and with the first that ``stop`` takes."""
    headers = {"Last-Event-ID": after} if after else {}
    seen: list[SSE] = []
    with api.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in read_sse(response.iter_lines()):
            seen.append(event)
            if stop(event):
                break
    return seen


def is_finished(event: SSE) -> bool:
    return event.event == "job_finished"


def open_gate(r: redis.Redis, gate: str) -> None:
    r.set(f"{TEST_PREFIX}:open:{gate}", 1)


def test_a_goal_streams_its_plan_steps_answer_and_result(
    api: httpx.Client, redis_client: redis.Redis
) -> None:
    job_id = api.post("/v1/jobs", json={"goal": "How do I reset my password?"}).json()["job_id"]
    seen = events_until(api, job_id, is_finished)
    kinds = [event.event for event in seen]
    assert kinds[0] == "job_submitted" and kinds[-1] == "job_finished"
    assert kinds.index("job_planned") < kinds.index("step_started")
    deltas = [e for e in seen if e.event == "step_delta"]
    assert len(deltas) >= 2 and {e.data["step_id"] for e in deltas} == {"answer"}
    result: dict[str, Any] = seen[-1].data["result"]
    assert result["status"] == "succeeded"
    assert "".join(e.data["data"]["text"] for e in deltas) == result["answer"]["text"]
    assert kinds.index("step_delta") < kinds.index("step_succeeded", kinds.index("step_delta"))
    assert [e.id for e in seen] == stream_ids(redis_client, job_id)


def test_a_post_that_accepts_an_event_stream_is_answered_with_the_jobs_events(
    api: httpx.Client, redis_client: redis.Redis
) -> None:
    body = {"goal": "How do I reset my password?"}
    stream = {"Accept": "text/event-stream", "Idempotency-Key": "one-request"}
    with api.stream("POST", "/v1/jobs", json=body, headers=stream) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        seen = list(read_sse(response.iter_lines()))
    accepted, *events = seen
    job_id = accepted.data["job_id"]
    assert accepted.event == "job_accepted" and not accepted.id  # not a stream entry
    assert response.headers["location"] == accepted.data["links"]["self"] == f"/v1/jobs/{job_id}"
    assert events[0].event == "job_submitted" and is_finished(events[-1])
    assert [e.id for e in events] == stream_ids(redis_client, job_id)
    assert events[-1].data["result"]["status"] == "succeeded"
    # The same key again: the same job's stream from its start, no second job.
    with api.stream("POST", "/v1/jobs", json=body, headers=stream) as again:
        replayed = list(read_sse(again.iter_lines()))
    assert again.headers["idempotent-replayed"] == "true"
    assert replayed[0].data["job_id"] == job_id
    assert [e.id for e in replayed[1:]] == [e.id for e in events]


def test_text_arrives_before_the_step_ends(
    api: httpx.Client, redis_client: redis.Redis, unique: Callable[[str], str]
) -> None:
    gate = unique("stream")
    plan = plan_of("streamer", gate=gate)
    job_id = api.post("/v1/jobs", json={"plan": plan}).json()["job_id"]
    with api.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        events = read_sse(response.iter_lines())
        first = next(e for e in events if e.event == "step_delta")
        assert first.data["data"] == {"text": "First sentence. ", "attempt": 1}
        assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
        open_gate(redis_client, gate)
        rest = [e.event for e in events]
    assert rest[0] == "step_delta" and rest[-1] == "job_finished"


def test_last_event_id_resumes_after_it_exactly_once_and_204_after_the_end(
    api: httpx.Client, redis_client: redis.Redis
) -> None:
    job_id = api.post("/v1/jobs", json={"goal": "How do I share a note?"}).json()["job_id"]
    head = events_until(api, job_id, lambda e: e.event == "step_started")
    tail = events_until(api, job_id, is_finished, after=head[-1].id)
    assert [e.id for e in head + tail] == stream_ids(redis_client, job_id)
    done = api.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": tail[-1].id})
    assert done.status_code == 204  # an EventSource stops reconnecting
    bad = api.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": "yesterday"})
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["error"]["message"]


def test_a_stream_resumes_on_another_gateway_after_the_first_is_killed(
    deployment: Settings,
    spawn: Callable[..., subprocess.Popen[bytes]],
    redis_client: redis.Redis,
    unique: Callable[[str], str],
) -> None:
    gate = unique("killed")
    ports = free_ports(2)
    first = spawn(deployment, "serve", "--port", str(ports[0]))
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    wait_for(lambda: http_get(f"{urls[0]}/healthz")[0] == 200, what="the first gateway")
    plan = {
        "steps": [
            {"id": "a", "agent": "streamer", "input": {"gate": gate}},
            {"id": "b", "agent": "echo", "input": {"text": {"$from": "a", "path": "text"}}},
        ]
    }
    with httpx.Client(base_url=urls[0], timeout=30) as api:
        job_id = api.post("/v1/jobs", json={"plan": plan}).json()["job_id"]
        head = events_until(api, job_id, lambda e: e.event == "step_delta")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    open_gate(redis_client, gate)
    spawn(deployment, "serve", "--port", str(ports[1]))
    wait_for(lambda: http_get(f"{urls[1]}/healthz")[0] == 200, what="the second gateway")
    with httpx.Client(base_url=urls[1], timeout=30) as api:
        tail = events_until(api, job_id, is_finished, after=head[-1].id)
    ids = [e.id for e in head + tail]
    assert ids == stream_ids(redis_client, job_id) and len(set(ids)) == len(ids)
    texts = [e.data["data"]["text"] for e in head + tail if e.event == "step_delta"]
    assert texts == ["First sentence. ", "Second sentence."]
    assert tail[-1].data["result"]["answer"] == {"text": "First sentence. Second sentence."}


def test_a_reader_that_stalls_holds_up_nobody_and_then_gets_every_event(
    api: httpx.Client, redis_client: redis.Redis
) -> None:
    # 10 MB of output: more than the sockets between the gateway and the reader buffer, so
    # the gateway's writes wait for the reader while it reads nothing.
    lines, width = 100_000, 100
    plan = plan_of("chatty", lines=lines, width=width)
    job_id = api.post("/v1/jobs", json={"plan": plan}).json()["job_id"]
    with api.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        events = read_sse(response.iter_lines())
        seen = [next(events)]
        # Meanwhile the job runs to its end and the gateway answers others.
        wait_for(
            lambda: api.get(f"/v1/jobs/{job_id}").json()["status"] == "succeeded",
            timeout=60,
            what="the job to end while its reader stalls",
        )
        seen += list(events)
    assert seen[-1].event == "job_finished"
    deltas = [e.data["data"]["text"] for e in seen if e.event == "step_delta"]
    assert "".join(deltas) == "".join(chatty_lines(lines, width))
    assert [e.id for e in seen] == stream_ids(redis_client, job_id)  # each once, in order


def blocked_readers(r: redis.Redis) -> int:
    """Clients of Redis blocked in XREAD on a job's events right now."""
    return sum(
        1
        for c in r.client_list()
        if c.get("cmd") == "xread" and "b" in c.get("flags", "") and c.get("name") != "test"
    )


def test_a_client_that_leaves_leaves_nothing_behind(
    gateway: Gateway, redis_client: redis.Redis, unique: Callable[[str], str]
) -> None:
    gate = unique("leaves")
    before = blocked_readers(redis_client)
    with gateway.http() as api:
        job_id = api.post("/v1/jobs", json={"plan": plan_of("gate", gate=gate)}).json()["job_id"]
        with api.stream("GET", f"/v1/jobs/{job_id}/events") as response:
            events = read_sse(response.iter_lines())  # held: dropped, it would hang up
            next(e for e in events if e.event == "step_started")
            wait_for(
                lambda: blocked_readers(redis_client) == before + 1,
                timeout=15,
                what="the stream's read to wait in Redis",
            )
        for _ in range(5):
            events_until(api, job_id, lambda e: e.event == "step_started")  # and hang up
    wait_for(
        lambda: blocked_readers(redis_client) == before,
        timeout=10,
        what="the left streams' reads to end",
    )
    open_gate(redis_client, gate)


def test_a_models_answer_streams_as_the_model_writes_it(
    planning: Settings, llm_server: LLMServer, gateways: Callable[..., Gateway]
) -> None:
    answer = "Open Settings, then choose Reset password. A link comes by e-mail."
    drafted = {"answered": True, "text": answer, "short_answer": "", "citations": ["p1"]}
    # Chunks far apart beside the worker's 25 ms merge of pieces, also on a busy machine.
    llm_server.script(Reply(json.dumps(drafted), piece_delay=0.1))
    passage = {"id": "p1", "text": "Reset it under Settings.", "title": "Passwords"}
    plan = plan_of("generation", instruction="How do I reset my password?", context=[passage])
    with gateways(planning).http() as api:
        job_id = api.post("/v1/jobs", json={"plan": plan}).json()["job_id"]
        seen = events_until(api, job_id, is_finished)
    kinds = [e.event for e in seen]
    deltas = [e.data["data"]["text"] for e in seen if e.event == "step_delta"]
    assert len(deltas) >= 4  # a word or two at a time, as the model's chunks came
    assert "".join(deltas) == answer
    assert kinds.index("step_delta") < kinds.index("step_succeeded")
    assert seen[-1].data["result"]["answer"]["citations"] == ["p1"]
    assert llm_server.chat_requests[0].body["stream"] is True


def test_a_stream_outlasts_its_blocking_read_however_quiet_the_job(bare: Settings) -> None:
    """A follower blocks in Redis up to KEEPALIVE_MS for the next event; its connection
    must wait longer than that (redis-py's asyncio default, 5 s, cut streams of quiet
    steps with a TimeoutError after the response had started)."""
    from orchestrator.service.deps import Service
    from orchestrator.service.streams import KEEPALIVE_MS

    service = Service.build(bare, allow_anonymous=True)
    timeout = service.streams.connection_pool.connection_kwargs["socket_timeout"]
    assert timeout is None or timeout > KEEPALIVE_MS / 1000
