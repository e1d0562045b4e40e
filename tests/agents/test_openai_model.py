"""OpenAIChatModel over real HTTP against the OpenAI-compatible test server, with the
retries workers put around it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import BaseModel

from agents.llm import (
    ChatModel,
    LLMPermanentError,
    LLMTransientError,
    Message,
    OpenAIChatModel,
)
from agents.llm.retrying import RetryingChatModel
from orchestrator.embedded.redis_server import free_port
from tests.support.llm_server import (
    ErrorReply,
    Hang,
    LLMServer,
    MalformedJSON,
    NotJSON,
    RateLimited,
    RecordedRequest,
    Reply,
    Respond,
    ServerError,
    echo,
)

ASK = [Message(role="user", content="say hi")]


_made: list[ChatModel] = []


@pytest.fixture(autouse=True)
def _close_models() -> Iterator[None]:
    yield
    while _made:
        _made.pop().close()


def model_for(server: LLMServer, **options: float) -> ChatModel:
    settings = {"timeout": 5.0, "attempts": 3, "backoff": 0.01, **options}
    endpoint = OpenAIChatModel(
        "test-model", api_key="test", base_url=server.base_url, timeout=settings["timeout"]
    )
    model = RetryingChatModel(
        endpoint, attempts=int(settings["attempts"]), backoff=settings["backoff"]
    )
    _made.append(model)
    return model


class Verdict(BaseModel):
    ok: bool
    reason: str


def test_a_streamed_reply_is_heard_a_piece_at_a_time(llm_server: LLMServer) -> None:
    llm_server.script(Reply("one two three four", piece_delay=0.02))
    heard: list[tuple[str, float]] = []
    reply = model_for(llm_server).chat(
        ASK, on_text=lambda piece: heard.append((piece, time.monotonic()))
    )
    assert [piece for piece, _ in heard] == ["one ", "two ", "three ", "four"]
    assert heard[-1][1] - heard[0][1] >= 0.05  # as they came, not all at the end
    assert reply.text == "one two three four" and reply.usage.completion_tokens == 4
    [request] = llm_server.chat_requests
    assert request.body["stream"] is True and request.body["stream_options"] == {
        "include_usage": True
    }


def test_structured_output_streams_its_json(llm_server: LLMServer) -> None:
    llm_server.script(Reply.of_json({"ok": True, "reason": "fine"}))
    heard: list[str] = []
    verdict, _ = model_for(llm_server).structured(ASK, Verdict, on_text=heard.append)
    assert verdict == Verdict(ok=True, reason="fine")
    assert len(heard) > 1 and json.loads("".join(heard)) == {"ok": True, "reason": "fine"}


def test_a_reply_comes_back_with_its_usage(llm_server: LLMServer) -> None:
    llm_server.script(Reply("hi there", usage=None))
    reply = model_for(llm_server).chat(ASK, max_tokens=20)
    assert reply.text == "hi there"
    assert reply.usage.prompt_tokens == 2 and reply.usage.completion_tokens == 2
    [request] = llm_server.chat_requests
    assert request.body["model"] == "test-model"
    assert request.body["temperature"] == 0.0 and request.body["max_tokens"] == 20
    assert request.headers["authorization"] == "Bearer test"


def test_429_is_retried_no_sooner_than_retry_after(llm_server: LLMServer) -> None:
    llm_server.script(RateLimited(retry_after=0.3), Reply("made it"))
    assert model_for(llm_server).chat(ASK).text == "made it"
    first, second = llm_server.chat_requests
    assert second.received_at - first.received_at >= 0.3


def test_5xx_is_retried_then_raised_as_transient(llm_server: LLMServer) -> None:
    llm_server.script(ServerError(500), ServerError(503), ServerError(502))
    with pytest.raises(LLMTransientError, match="answered 502"):
        model_for(llm_server, attempts=3).chat(ASK)
    assert len(llm_server.chat_requests) == 3


def test_a_hanging_endpoint_times_out_as_transient(llm_server: LLMServer) -> None:
    llm_server.script(Hang(), Hang())
    with pytest.raises(LLMTransientError, match="timed out"):
        model_for(llm_server, timeout=0.3, attempts=2).chat(ASK)
    assert len(llm_server.chat_requests) == 2


def test_a_refused_request_fails_at_once(llm_server: LLMServer) -> None:
    llm_server.script(ErrorReply(401, "bad key", "invalid_request_error", None, "invalid_api_key"))
    with pytest.raises(LLMPermanentError, match=r"answered 401: .*bad key"):
        model_for(llm_server).chat(ASK)
    assert len(llm_server.chat_requests) == 1


def test_a_page_that_is_not_a_completion_is_a_clear_permanent_error(
    llm_server: LLMServer,
) -> None:
    llm_server.script(NotJSON("<html>welcome</html>"))
    with pytest.raises(LLMPermanentError, match="is it an OpenAI-compatible endpoint"):
        model_for(llm_server).chat(ASK)


def test_structured_output_uses_the_json_schema(llm_server: LLMServer) -> None:
    llm_server.script(Reply.of_json({"ok": True, "reason": "fine"}))
    verdict, usage = model_for(llm_server).structured(ASK, Verdict)
    assert verdict == Verdict(ok=True, reason="fine")
    assert usage.total_tokens > 0
    response_format = llm_server.chat_requests[0].body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"] == Verdict.model_json_schema()


def test_an_endpoint_without_structured_outputs_gets_json_mode() -> None:
    with LLMServer(structured_outputs=False) as server:
        server.script(Reply.of_json({"ok": False, "reason": "no schema support"}))
        verdict, _ = model_for(server).structured(ASK, Verdict)
        formats = [r.body.get("response_format", {}).get("type") for r in server.chat_requests]
    assert verdict.reason == "no schema support"
    assert formats == ["json_schema", "json_object"]


def test_malformed_structured_output_is_repaired(llm_server: LLMServer) -> None:
    llm_server.script(MalformedJSON('{"ok": tru'), Reply.of_json({"ok": True, "reason": "x"}))
    verdict, _ = model_for(llm_server).structured(ASK, Verdict)
    assert verdict.ok
    repair = llm_server.chat_requests[1].messages
    assert repair[-2] == {"role": "assistant", "content": '{"ok": tru'}
    assert "not valid" in repair[-1]["content"]


def test_calls_from_many_threads_are_in_flight_at_once(llm_server: LLMServer) -> None:
    # Each answer waits until every call has arrived: serialised calls would time out.
    calls = 40
    everyone = threading.Barrier(calls, timeout=10)

    def together(request: RecordedRequest) -> str:
        everyone.wait()
        return request.last_user_message

    llm_server.default = Respond(together)
    model = model_for(llm_server, timeout=15.0, attempts=1)
    questions = [[Message(role="user", content=f"q{i}")] for i in range(calls)]
    with ThreadPoolExecutor(calls) as pool:
        answers = list(pool.map(lambda question: model.chat(question).text, questions))
    assert answers == [f"q{i}" for i in range(calls)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_calls_on_a_client_of_its_own(llm_server: LLMServer) -> None:
    # Celery's prefork pool: the model is made in the parent and called in each child.
    llm_server.default = Respond(echo)
    model = model_for(llm_server)
    assert model.chat(ASK).text == "say hi"
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(writer, model.chat([Message(role="user", content="child")]).text.encode())
        finally:
            os._exit(0)
    os.close(writer)
    os.waitpid(pid, 0)
    assert os.read(reader, 100) == b"child"
    assert model.chat(ASK).text == "say hi"


def test_an_endpoint_that_is_not_listening_is_transient() -> None:
    endpoint = OpenAIChatModel(
        "test-model", api_key="test", base_url=f"http://127.0.0.1:{free_port()}/v1", timeout=5
    )
    _made.append(endpoint)
    with pytest.raises(LLMTransientError, match="cannot reach the model endpoint"):
        endpoint.chat(ASK)


def test_a_process_that_never_closes_its_model_exits_quietly(llm_server: LLMServer) -> None:
    # aiohttp reports sessions left open at exit on stderr; the model closes its own.
    script = (
        "from agents.llm import Message, OpenAIChatModel\n"
        f"model = OpenAIChatModel('m', api_key='test', base_url={llm_server.base_url!r})\n"
        "print(model.chat([Message(role='user', content='hi')]).text)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert done.stderr == ""
