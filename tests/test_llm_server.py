"""The OpenAI-compatible test server, driven by the real ``openai`` client over real HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion
from openai.types.shared_params import ResponseFormatJSONSchema

from tests.support.helpers import wait_for
from tests.support.llm_server import (
    UNSUPPORTED_JSON_SCHEMA,
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
    Usage,
    echo,
)

TIMEOUT = 5.0
PLAN_SCHEMA: ResponseFormatJSONSchema = {
    "type": "json_schema",
    "json_schema": {
        "name": "plan",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"steps": {"type": "array", "items": {"type": "string"}}},
            "required": ["steps"],
            "additionalProperties": False,
        },
    },
}


def connect(server: LLMServer, **options: Any) -> openai.OpenAI:
    """The real client, pointed at the test server, without retries unless asked."""
    options = {"max_retries": 0, "timeout": TIMEOUT, **options}
    return openai.OpenAI(base_url=server.base_url, api_key="test", **options)


@pytest.fixture
def llm(llm_server: LLMServer) -> Iterator[openai.OpenAI]:
    with connect(llm_server) as client:
        yield client


def ask(llm: openai.OpenAI, text: str = "hello there", timeout: float = TIMEOUT) -> ChatCompletion:
    return llm.chat.completions.create(
        model="test-model", messages=[{"role": "user", "content": text}], timeout=timeout
    )


def test_a_reply_parses_with_word_count_usage(llm_server: LLMServer, llm: openai.OpenAI) -> None:
    llm_server.script(Reply("bonjour tout le monde"))

    completion = ask(llm, "hello there")

    assert completion.object == "chat.completion"
    assert completion.model == "test-model"
    assert completion.id.startswith("chatcmpl-")
    choice = completion.choices[0]
    assert choice.index == 0 and choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == "bonjour tout le monde"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 2
    assert completion.usage.completion_tokens == 4
    assert completion.usage.total_tokens == 6


def test_usage_and_finish_reason_are_configurable(
    llm_server: LLMServer, llm: openai.OpenAI
) -> None:
    llm_server.script(Reply("cut", usage=Usage(100, 7), finish_reason="length"))

    completion = ask(llm)

    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (100, 7)
    assert completion.usage.total_tokens == 107
    assert completion.choices[0].finish_reason == "length"


def test_a_json_document_comes_back_as_text(llm_server: LLMServer, llm: openai.OpenAI) -> None:
    llm_server.script(Reply.of_json({"steps": ["search", "answer"]}))

    content = ask(llm).choices[0].message.content

    assert content is not None
    assert json.loads(content) == {"steps": ["search", "answer"]}


def test_the_script_is_a_queue_and_then_the_default_answers(
    llm_server: LLMServer, llm: openai.OpenAI
) -> None:
    llm_server.default = Reply("default")
    llm_server.script(Reply("first"), Reply("second"))
    assert llm_server.pending == 2

    answers = [ask(llm).choices[0].message.content for _ in range(3)]

    assert answers == ["first", "second", "default"]
    assert llm_server.pending == 0


def test_every_request_is_recorded_with_body_and_headers(
    llm_server: LLMServer, llm: openai.OpenAI
) -> None:
    llm.chat.completions.create(
        model="gpt-test",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Plan it."},
        ],
        temperature=0,
        response_format={"type": "json_object"},
    )
    llm.models.list()

    chat, models = llm_server.requests
    assert llm_server.chat_requests == [chat]
    assert (chat.method, chat.path) == ("POST", "/v1/chat/completions")
    assert chat.headers["authorization"] == "Bearer test"
    assert chat.body["model"] == "gpt-test"
    assert chat.body["temperature"] == 0
    assert chat.body["response_format"] == {"type": "json_object"}
    assert chat.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Plan it."},
    ]
    assert chat.last_user_message == "Plan it."
    assert json.loads(chat.raw) == chat.body
    assert (models.method, models.path, models.body) == ("GET", "/v1/models", {})


def test_a_body_that_is_not_a_json_object_is_recorded_and_refused(
    llm_server: LLMServer, llm: openai.OpenAI
) -> None:
    llm_server.script(Reply("unused"))
    with pytest.raises(openai.BadRequestError, match="not a JSON object"):
        llm.post("/chat/completions", body=["not", "an", "object"], cast_to=object)
    (request,) = llm_server.requests
    assert (request.body, json.loads(request.raw)) == ({}, ["not", "an", "object"])
    assert llm_server.pending == 1


def test_the_reply_names_the_model_that_was_asked_for(
    llm_server: LLMServer, llm: openai.OpenAI
) -> None:
    completion = llm.chat.completions.create(
        model="other-model", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.model == "other-model"


def test_models_lists_the_model(llm_server: LLMServer, llm: openai.OpenAI) -> None:
    assert [m.id for m in llm.models.list()] == ["test-model"]
    assert llm.models.retrieve("test-model").id == "test-model"
    with pytest.raises(openai.NotFoundError):
        llm.models.retrieve("no-such-model")


def test_a_delayed_reply_arrives_after_the_delay(llm_server: LLMServer, llm: openai.OpenAI) -> None:
    llm_server.script(Reply("late", delay=0.3))

    started = time.monotonic()
    completion = ask(llm)

    assert time.monotonic() - started >= 0.3
    assert completion.choices[0].message.content == "late"


def test_a_delay_longer_than_the_client_timeout_times_out(
    llm_server: LLMServer, llm: openai.OpenAI
) -> None:
    llm_server.script(Reply("too late", delay=2))
    with pytest.raises(openai.APITimeoutError):
        ask(llm, timeout=0.2)


def test_429_raises_rate_limit_error_with_retry_after(
    llm_server: LLMServer, llm: openai.OpenAI
) -> None:
    llm_server.script(RateLimited(retry_after=7))

    with pytest.raises(openai.RateLimitError) as caught:
        ask(llm)

    error = caught.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "7"
    assert error.code == "rate_limit_exceeded"
    assert isinstance(error.body, dict) and error.body["type"] == "requests"


def test_429_without_retry_after_has_no_header(llm_server: LLMServer, llm: openai.OpenAI) -> None:
    llm_server.script(RateLimited(retry_after=None))
    with pytest.raises(openai.RateLimitError) as caught:
        ask(llm)
    assert "retry-after" not in caught.value.response.headers


def test_the_sdk_retry_honours_retry_after(llm_server: LLMServer) -> None:
    llm_server.script(RateLimited(retry_after=0.4), Reply("after waiting"))
    with connect(llm_server, max_retries=1) as llm:
        started = time.monotonic()
        completion = ask(llm)
    assert time.monotonic() - started >= 0.4
    assert completion.choices[0].message.content == "after waiting"
    assert len(llm_server.chat_requests) == 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_raises_internal_server_error(
    llm_server: LLMServer, llm: openai.OpenAI, status: int
) -> None:
    llm_server.script(ServerError(status))

    with pytest.raises(openai.InternalServerError) as caught:
        ask(llm)

    assert caught.value.status_code == status
    assert isinstance(caught.value.body, dict)
    assert set(caught.value.body) == {"message", "type", "param", "code"}
    assert caught.value.body["type"] == "server_error"


def test_server_error_must_be_5xx() -> None:
    with pytest.raises(ValueError, match="5xx"):
        ServerError(404)


def test_an_error_reply_can_be_any_status(llm_server: LLMServer, llm: openai.OpenAI) -> None:
    llm_server.script(ErrorReply(401, "Incorrect API key.", code="invalid_api_key"))
    with pytest.raises(openai.AuthenticationError) as caught:
        ask(llm)
    assert caught.value.code == "invalid_api_key"


def test_hang_times_out_the_client_and_stopping_stays_fast() -> None:
    before = set(threading.enumerate())
    server = LLMServer().start()
    server.script(Hang())
    with connect(server, timeout=60) as llm:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask(llm, timeout=0.3)
        assert time.monotonic() - started < 2

        stopping = time.monotonic()
        server.stop()
    assert time.monotonic() - stopping < 1
    assert set(threading.enumerate()) - before == set()  # no thread left behind


def test_stopping_ends_a_request_a_client_is_still_waiting_on() -> None:
    server = LLMServer().start()
    server.script(Hang())
    with (
        connect(server, timeout=60) as llm,
        ThreadPoolExecutor(1) as pool,
    ):
        waiting = pool.submit(ask, llm, "anyone?", 60)
        wait_for(lambda: server.chat_requests, timeout=5, what="the request to arrive")

        stopping = time.monotonic()
        server.stop()
        assert time.monotonic() - stopping < 1

        with pytest.raises(openai.APIConnectionError):
            waiting.result(timeout=5)


def test_an_endpoint_without_structured_outputs_rejects_json_schema() -> None:
    with LLMServer(structured_outputs=False) as server:
        server.script(Reply.of_json({"steps": ["a"]}))
        with connect(server) as llm:
            with pytest.raises(openai.BadRequestError) as caught:
                llm.chat.completions.create(
                    model="test-model",
                    messages=[{"role": "user", "content": "plan"}],
                    response_format=PLAN_SCHEMA,
                )
            # The fallback, JSON mode, gets the scripted answer the rejection did not use.
            assert server.pending == 1
            fallback = llm.chat.completions.create(
                model="test-model",
                messages=[{"role": "user", "content": "plan"}],
                response_format={"type": "json_object"},
            )

    error = caught.value
    assert error.status_code == 400
    assert isinstance(error.body, dict)
    assert set(error.body) == {"message", "type", "param", "code"}
    assert error.body["type"] == "invalid_request_error"
    assert error.param == "response_format"
    assert "json_schema" in error.message
    assert fallback.choices[0].message.content == '{"steps": ["a"]}'
    assert [r.body["response_format"]["type"] for r in server.chat_requests] == [
        "json_schema",
        "json_object",
    ]


def test_json_schema_is_accepted_by_default_and_can_be_rejected_once(
    llm_server: LLMServer, llm: openai.OpenAI
) -> None:
    llm_server.script(UNSUPPORTED_JSON_SCHEMA, Reply.of_json({"steps": []}))

    def structured() -> ChatCompletion:
        return llm.chat.completions.create(
            model="test-model",
            messages=[{"role": "user", "content": "plan"}],
            response_format=PLAN_SCHEMA,
        )

    with pytest.raises(openai.BadRequestError):
        structured()
    assert structured().choices[0].message.content == '{"steps": []}'


def test_malformed_json_content_is_text_that_fails_to_parse(
    llm_server: LLMServer, llm: openai.OpenAI
) -> None:
    llm_server.script(MalformedJSON())

    content = ask(llm).choices[0].message.content

    assert content
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_a_non_json_error_body_raises_an_api_status_error(
    llm_server: LLMServer, llm: openai.OpenAI
) -> None:
    llm_server.script(NotJSON("<html>502 Bad Gateway</html>", status=502))
    with pytest.raises(openai.InternalServerError) as caught:
        ask(llm)
    assert caught.value.body == "<html>502 Bad Gateway</html>"


def test_a_non_json_success_body_is_not_an_api_error(
    llm_server: LLMServer, llm: openai.OpenAI
) -> None:
    """What the SDK really does with a 200 whose body is not JSON: no APIError at all.

    A text/html body comes back as the plain string in place of a ChatCompletion; a body that
    claims to be JSON raises json.JSONDecodeError. Only strict response validation turns the
    first into openai.APIResponseValidationError. A ChatModel must guard for both.
    """
    llm_server.script(
        NotJSON("<html>hi</html>"), NotJSON("not json", content_type="application/json")
    )

    result: object = ask(llm)
    assert result == "<html>hi</html>"
    with pytest.raises(json.JSONDecodeError):
        ask(llm)

    llm_server.script(NotJSON("<html>hi</html>"))
    with (
        connect(llm_server, _strict_response_validation=True) as strict,
        pytest.raises(openai.APIResponseValidationError),
    ):
        ask(strict)


def test_respond_computes_the_reply_from_the_request(
    llm_server: LLMServer, llm: openai.OpenAI
) -> None:
    llm_server.default = Respond(echo)
    assert ask(llm, "say this back").choices[0].message.content == "say this back"

    def hot_is_rate_limited(request: RecordedRequest) -> RateLimited | str:
        return RateLimited(2) if request.body.get("temperature", 0) > 1 else "cool"

    llm_server.script(Respond(hot_is_rate_limited), Respond(hot_is_rate_limited))
    with pytest.raises(openai.RateLimitError):
        llm.chat.completions.create(
            model="test-model", messages=[{"role": "user", "content": "x"}], temperature=1.5
        )
    assert ask(llm).choices[0].message.content == "cool"


def test_echo_reads_text_content_parts(llm_server: LLMServer, llm: openai.OpenAI) -> None:
    llm_server.script(Respond(echo))
    completion = llm.chat.completions.create(
        model="test-model",
        messages=[{"role": "user", "content": [{"type": "text", "text": "in parts"}]}],
    )
    assert completion.choices[0].message.content == "in parts"


def test_a_failing_behaviour_answers_500_and_fails_the_with_block() -> None:
    def broken(request: RecordedRequest) -> str:
        raise KeyError("oops")

    # The server's exit raises, after the client has seen its 500.
    with (
        pytest.raises(RuntimeError, match="failed answering") as caught,
        LLMServer(default=Respond(broken)) as server,
        connect(server) as llm,
        pytest.raises(openai.InternalServerError),
    ):
        ask(llm)
    assert isinstance(caught.value.__cause__, KeyError)


def test_a_stopped_server_has_no_url_and_stops_twice_quietly() -> None:
    server = LLMServer()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
    server.start()
    assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
    server.stop()
    server.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
