"""``celeriac chat``: a conversation with a ``celeriac serve``, its answers streamed."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from agents.errors import CeleriacError
from orchestrator.cli.common import err, errors_to_exit_codes
from orchestrator.settings import read_settings


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) of a Server-Sent Events stream."""
    kind, data = "message", ""
    for line in lines:
        if not line:
            if data:
                yield kind, json.loads(data)
            kind, data = "message", ""
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


@errors_to_exit_codes
def chat(
    url: Annotated[str, typer.Option(help="The server.")] = "http://127.0.0.1:8000",
    collection: Annotated[str | None, typer.Option(help="Collection to talk about.")] = None,
) -> None:
    """Talk with a `celeriac serve` about a collection; answers stream in as written.

    Sends CELERIAC_API_KEY as the key, if set. An empty line or end of input ends it.
    """
    import httpx

    key = read_settings().api_key
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=None) as http:
        made = _json(http.post("/v1/conversations", json={"collection": collection}))
        conversation = made["conversation_id"]
        err.print(f"conversation {conversation} on {made['collection']}", highlight=False)
        while True:
            try:
                message = input("you> ").strip()
            except EOFError:
                return
            if not message:
                return
            turn = _json(
                http.post(f"/v1/conversations/{conversation}/messages", json={"message": message})
            )
            _follow(http, turn["links"]["events"])


def _follow(http: Any, events: str) -> None:
    with http.stream("GET", events) as response:
        wrote = False
        for kind, event in sse_events(response.iter_lines()):
            if kind == "step_delta":
                sys.stdout.write(event["data"]["text"])
                sys.stdout.flush()
                wrote = True
            elif kind == "job_finished":
                result = event["result"]
                answer = result.get("answer")
                text = answer.get("text", "") if isinstance(answer, dict) else str(answer or "")
                if not wrote or result.get("status") != "succeeded":
                    sys.stdout.write(text or result.get("error") or result["status"])
                cited = answer.get("citations", []) if isinstance(answer, dict) else []
                sys.stdout.write("\n")
                score = result.get("score")
                said = f"[{', '.join(cited)}]" if cited else ""
                scored = f"{said} score {score:.2f}" if score is not None else said
                sys.stdout.write(scored + "\n")


def _json(response: Any) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text
        raise CeleriacError(f"{response.status_code}: {message}")
    document: dict[str, Any] = response.json()
    return document
