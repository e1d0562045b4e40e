"""OpenAIChatModel over real HTTP against the OpenAI-compatible test server, with the
retries workers put around it."""

from __future__ import annotations

from collections.abc import Iterator

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
from tests.llm_server import (
    ErrorReply,
    Hang,
    LLMServer,
    MalformedJSON,
    NotJSON,
    RateLimited,
    Reply,
    ServerError,
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
