"""Small agents the tests run on real workers.

Those that coordinate with a test (gates, barriers, run counters) use the
deployment's Redis, found in CELERIAC_REDIS_URL as every worker has it.
"""

from __future__ import annotations

import functools
import os
import time

import redis
from pydantic import BaseModel

from agents import Agent, PermanentError, StepContext, TransientError
from orchestrator.store.connection import connect

TEST_PREFIX = "celeriac-test"


@functools.cache
def _redis() -> redis.Redis:
    """One client per worker process, shared by its threads (each may block in BLPOP); a
    cluster client when the store is a Redis Cluster. Rides out restarts and failovers."""
    return connect(os.environ["CELERIAC_REDIS_URL"], max_connections=1024, retries=20)


def record_run(context: StepContext) -> None:
    """Count runs per step, so tests can tell how often a step really ran."""
    _redis().incr(f"{TEST_PREFIX}:runs:{context.job_id}:{context.step_id}")


class Text(BaseModel):
    text: str


class Parts(BaseModel):
    parts: list[str]


class Echo(Agent):
    name = "echo"
    description = "Returns its text unchanged."
    Input = Text
    Output = Text

    def run(self, input: Text, context: StepContext) -> Text:
        record_run(context)
        context.progress(1.0, "echoed")
        return Text(text=input.text)


class Refund(Agent):
    name = "refund"
    description = "Pretends to refund a customer the text's amount: a person says yes first."
    Input = Text
    Output = Text
    needs_approval = True

    def run(self, input: Text, context: StepContext) -> Text:
        record_run(context)
        return Text(text=f"refunded {input.text}")


class Concat(Agent):
    name = "concat"
    description = "Joins its parts with spaces."
    Input = Parts
    Output = Text

    def run(self, input: Parts, context: StepContext) -> Text:
        record_run(context)
        return Text(text=" ".join(input.parts))


class FailInput(BaseModel):
    message: str = "boom"
    transient_times: int = 0  # fail transiently this many attempts, then succeed


class Fail(Agent):
    name = "fail"
    description = "Fails permanently, or transiently for its first attempts."
    Input = FailInput
    Output = Text

    def run(self, input: FailInput, context: StepContext) -> Text:
        record_run(context)
        if context.attempt <= input.transient_times:
            raise TransientError(f"{input.message} (attempt {context.attempt})", retry_after=0.1)
        if input.transient_times:
            return Text(text=f"ok after {context.attempt} attempts")
        raise PermanentError(input.message)


class GateInput(BaseModel):
    gate: str
    timeout: float = 60.0


class Gate(Agent):
    """Says it started, then waits until the test opens its gate."""

    name = "gate"
    description = "Blocks until a test opens its gate."
    Input = GateInput
    Output = Text

    def run(self, input: GateInput, context: StepContext) -> Text:
        record_run(context)
        client = _redis()
        client.rpush(f"{TEST_PREFIX}:started:{input.gate}", context.worker)
        deadline = time.monotonic() + input.timeout
        while time.monotonic() < deadline:
            if client.exists(f"{TEST_PREFIX}:open:{input.gate}"):
                return Text(text=f"passed {input.gate}")
            client.blpop([f"{TEST_PREFIX}:wake:{input.gate}"], timeout=0.2)
        raise PermanentError(f"gate {input.gate} was never opened")


class Milestone(Gate):
    """Reports being halfway, then waits for its gate like ``gate``."""

    name = "milestone"
    description = "Says it is halfway, then blocks until a test opens its gate."

    def run(self, input: GateInput, context: StepContext) -> Text:
        context.progress(0.5, "halfway")
        return super().run(input, context)


class Streamer(Gate):
    """Writes its first sentence, waits for its gate like ``gate``, then writes the second:
    a step whose output is seen before it ends."""

    name = "streamer"
    description = "Writes a sentence, blocks until a test opens its gate, writes another."

    def run(self, input: GateInput, context: StepContext) -> Text:
        context.write("First sentence. ")
        super().run(input, context)
        context.write("Second sentence.")
        return Text(text="First sentence. Second sentence.")


class ChattyInput(BaseModel):
    lines: int
    width: int = 100


class Chatty(Agent):
    """Writes ``lines`` numbered lines as it goes: a stream bigger than sockets buffer."""

    name = "chatty"
    description = "Streams many numbered lines of output."
    Input = ChattyInput
    Output = Text

    def run(self, input: ChattyInput, context: StepContext) -> Text:
        for line in chatty_lines(input.lines, input.width):
            context.write(line)
        return Text(text=f"{input.lines} lines")


def chatty_lines(lines: int, width: int) -> list[str]:
    return [f"{n:08d} ".ljust(width - 1, "x") + "\n" for n in range(lines)]


class Poison(Agent):
    """Kills the process that runs it, every time: a step no worker survives."""

    name = "poison"
    description = "Crashes its worker process."
    Input = Text
    Output = Text

    def run(self, input: Text, context: StepContext) -> Text:
        record_run(context)
        os._exit(70)


class Patient(Agent):
    """Works in small units until its job is cancelled (or a minute passes)."""

    name = "patient"
    description = "Waits, stopping as soon as its job is cancelled."
    Input = Text
    Output = Text

    def run(self, input: Text, context: StepContext) -> Text:
        record_run(context)
        _redis().rpush(f"{TEST_PREFIX}:started:{input.text}", context.worker)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            context.stop_if_cancelled()
            time.sleep(0.02)  # one unit of work
        return Text(text="never cancelled")


class BarrierInput(BaseModel):
    name: str
    parties: int
    timeout: float = 60.0


class Barrier(Agent):
    """Returns only once ``parties`` steps are inside it at the same time."""

    name = "barrier"
    description = "Waits until a number of steps have all arrived."
    Input = BarrierInput
    Output = Text

    def run(self, input: BarrierInput, context: StepContext) -> Text:
        record_run(context)
        client = _redis()
        arrived = client.incr(f"{TEST_PREFIX}:barrier:{input.name}")
        if arrived == input.parties:
            client.rpush(f"{TEST_PREFIX}:barrier:{input.name}:go", *["go"] * input.parties)
        deadline = time.monotonic() + input.timeout
        while time.monotonic() < deadline:  # short waits: redis-py times reads out at 5 s
            if client.blpop([f"{TEST_PREFIX}:barrier:{input.name}:go"], timeout=1):
                return Text(text=f"{context.step_id} passed with {input.parties}")
        raise PermanentError(f"barrier {input.name}: only {arrived} of {input.parties} arrived")


class SleepInput(BaseModel):
    seconds: float
    tag: str | None = None  # count runs and list the workers they ran on, as gates do


class Sleep(Agent):
    """Waits like an LLM call would: the benchmark's stand-in for I/O."""

    name = "sleep"
    description = "Sleeps for some seconds."
    Input = SleepInput
    Output = Text

    def run(self, input: SleepInput, context: StepContext) -> Text:
        if input.tag is not None:
            record_run(context)
            _redis().rpush(f"{TEST_PREFIX}:started:{input.tag}", context.worker)
        time.sleep(input.seconds)
        return Text(text=f"slept {input.seconds}")
