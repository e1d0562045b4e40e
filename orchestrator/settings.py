"""celeriac's settings: one object, read from ``CELERIAC_*`` environment variables."""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from orchestrator.errors import ConfigError
from orchestrator.models import Approval

_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")  # a Redis Cluster as the store
BROKER_SCHEMES = ("redis://", "rediss://", "unix://", "amqp://", "amqps://")
_NO_CLUSTER_BROKER = (
    "Celery cannot use a Redis Cluster as its broker: with a cluster store, set "
    "CELERIAC_BROKER_URL to RabbitMQ (amqp://user:password@host:5672/vhost) or to a separate, "
    "plain Redis (redis://host:6379/0)"
)
_PRICES_RULE = (
    "must be a JSON object of each model's USD prices per million input and output tokens, "
    'e.g. {"gpt-4o-mini": [0.15, 0.6]}'
)


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "celeriac"


class Settings(BaseSettings):
    """Every knob celeriac has. Build it once and pass it in: ``Settings()`` reads the environment.

    >>> Settings(redis_url="redis://localhost:6379/0", agent_modules=["myproject.agents"])
    """

    model_config = SettingsConfigDict(env_prefix="CELERIAC_", env_ignore_empty=True, frozen=True)

    redis_url: str | None = Field(
        default=None,
        description=(
            "Redis for state (and the broker, unless broker_url says otherwise); "
            "redis+cluster://host:port for a Redis Cluster; unset = embedded (a private Redis)."
        ),
    )
    broker_url: str | None = Field(
        default=None,
        validate_default=True,
        description="Celery's broker: amqp://... for RabbitMQ; unset = redis_url.",
    )
    agent_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated modules to import for agent types."
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    step_lease_seconds: float = Field(default=15.0, gt=0, description="Lease a running step holds.")
    step_max_attempts: int = Field(default=3, ge=1, description="Runs of a step before it fails.")
    retry_backoff_seconds: float = Field(default=1.0, ge=0, description="First retry delay.")
    retry_backoff_max_seconds: float = Field(default=60.0, ge=0)
    sweep_interval_seconds: float = Field(default=1.0, gt=0)
    redeliver_seconds: float = Field(
        default=300.0, gt=0, description="Publish a step again if no worker took it by then."
    )
    result_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0, description="Finished jobs kept.")
    max_plan_bytes: int = Field(default=1_000_000, gt=0)
    max_plan_steps: int = Field(default=1000, gt=0)
    max_goal_chars: int = Field(default=20_000, gt=0, description="Longest goal accepted.")
    default_collection: str = Field(
        default="demo", min_length=1, description="Collection searched when a goal names none."
    )
    fallback_language: bool = Field(
        default=False,
        description=(
            "Answer a goal in English, with a warning, when no live worker can produce the "
            "language it asks for (else the goal is refused before anything runs)."
        ),
    )
    planner_repairs: int = Field(
        default=2, ge=0, description="Times an invalid model plan goes back with its errors."
    )
    planner_synthesis: bool = Field(
        default=True, description="With a model, combine several answers in one final step."
    )
    replan_attempts: int = Field(
        default=1, ge=0, description="Times a failed branch may be replanned (with a model)."
    )
    planner_timeout_seconds: float = Field(
        default=300.0, gt=0, description="Planning longer than this is tried again."
    )
    approval: Approval = Field(
        default="none", description="What a job asks a person to approve: none, or its plan."
    )
    approval_timeout_seconds: float = Field(
        default=24 * 3600.0, gt=0, description="A job or step waiting longer for a yes expires."
    )
    redis_outage_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a client waiting on a job rides out Redis being unreachable "
        "(a restart, a cluster failover) before it raises RedisUnavailable.",
    )
    scoring: bool = Field(default=True, description="Score every step and job.")
    scoring_judge: bool = Field(
        default=True, description="With a model, also let it judge outputs (costs a call)."
    )
    score_retries: int = Field(
        default=1, ge=0, description="Runs again of a step scoring under the job's threshold."
    )
    trace_content: bool = Field(
        default=False,
        description="Put model prompts and replies into traces (OTEL_EXPORTER_OTLP_ENDPOINT).",
    )
    flower_basic_auth: str | None = Field(
        default=None, description="user:password that `celeriac flower` requires to log in."
    )
    metrics_port: int = Field(
        default=0, ge=0, le=65535, description="Port of a worker's Prometheus metrics; 0 = off."
    )
    chain_steps: bool = Field(
        default=True,
        description="A worker runs a step that a step it ran made ready itself, at once, when "
        "it serves that step's agent type (no broker round trip); false: every step is "
        "published.",
    )
    steps_per_message: int = Field(
        default=32,
        ge=1,
        description="Most ready steps of one job and agent type that one broker message "
        "carries (a worker runs them side by side); 1: a message a step.",
    )
    worker_concurrency: int = Field(default=256, ge=1, description="Steps one worker runs at once.")
    worker_heartbeat_seconds: float = Field(default=2.0, gt=0)
    embedded_workers: int = Field(default=1, ge=1, description="Worker processes `run` starts.")
    llm_backend: Literal["auto", "openai", "offline"] = Field(
        default="auto",
        description="auto: openai when OPENAI_API_KEY or OPENAI_BASE_URL is set, else offline.",
    )
    llm_model: str = Field(default="gpt-4o-mini", min_length=1)
    llm_timeout_seconds: float = Field(default=60.0, gt=0, description="Per model call.")
    llm_attempts: int = Field(default=4, ge=1, description="Calls per request, retries included.")
    llm_cache: bool = Field(default=True, description="Cache temperature-0 calls in Redis.")
    llm_cache_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    llm_requests_per_minute: int = Field(default=0, ge=0, description="Shared limit; 0 = none.")
    llm_tokens_per_minute: int = Field(default=0, ge=0, description="Shared limit; 0 = none.")
    llm_rate_limit_max_wait_seconds: float = Field(default=60.0, ge=0)
    service_max_body_bytes: int = Field(
        default=2_000_000, gt=0, description="Largest request body `celeriac serve` reads."
    )
    service_requests_per_minute: int = Field(
        default=600, ge=1, description="A key's request rate (`keys create` may set its own)."
    )
    service_concurrent_jobs: int = Field(
        default=20,
        ge=1,
        description="A key's jobs running at once (`keys create` may set its own).",
    )
    conversation_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        gt=0,
        description="A conversation is kept this long after its last turn.",
    )
    conversation_max_turns: int = Field(
        default=50, ge=1, description="Turns a conversation keeps; older ones are dropped."
    )
    api_key: str | None = Field(
        default=None,
        exclude=True,  # never handed on to the processes a command starts
        description="The key `celeriac chat` sends to `celeriac serve`.",
    )
    flower_url: str | None = Field(
        default=None, description="Flower's address, linked from the page `celeriac serve` shows."
    )
    llm_prices: Annotated[dict[str, tuple[float, float]], NoDecode] = Field(
        default_factory=dict,
        description='USD per million input and output tokens: {"gpt-4o-mini": [0.15, 0.6]}',
    )

    def llm_cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """What a call cost in USD; 0 for a model without a price."""
        price_in, price_out = self.llm_prices.get(model) or self.llm_prices.get(
            self.llm_model, (0.0, 0.0)
        )
        return (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000

    def model_post_init(self, context: Any, /) -> None:
        # A misspelt variable would otherwise be ignored without a word.
        known = {f"CELERIAC_{name.upper()}" for name in type(self).model_fields}
        for variable in sorted(os.environ):
            if variable.startswith("CELERIAC_") and variable not in known:
                names = sorted(name.upper() for name in type(self).model_fields)
                close = difflib.get_close_matches(variable.removeprefix("CELERIAC_"), names, n=1)
                hint = f"; did you mean CELERIAC_{close[0]}?" if close else ""
                raise ConfigError(f"unknown setting {variable}{hint}")

    @field_validator("agent_modules", mode="before")
    @classmethod
    def _split_modules(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("agent_modules")
    @classmethod
    def _check_modules(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _MODULE_NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r} is not a module name: give comma-separated dotted names "
                    "such as 'myproject.agents,other_agents'"
                )
        return value

    @field_validator("llm_prices", mode="wrap")
    @classmethod
    def _check_prices(
        cls, value: object, handler: ValidatorFunctionWrapHandler
    ) -> dict[str, tuple[float, float]]:
        try:
            prices: dict[str, tuple[float, float]] = handler(
                json.loads(value) if isinstance(value, str) else value
            )
        except ValueError:  # not JSON, or JSON of another shape (a ValidationError)
            raise ValueError(_PRICES_RULE) from None
        return prices

    @field_validator("flower_basic_auth")
    @classmethod
    def _check_login(cls, value: str | None) -> str | None:
        user, colon, password = (value or "").partition(":")
        if value is not None and (not user or not colon or not password):
            raise ValueError("must be user:password, both non-empty (e.g. admin:long-secret)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(REDIS_SCHEMES + CLUSTER_SCHEMES):
            schemes = ", ".join(REDIS_SCHEMES + CLUSTER_SCHEMES)
            raise ValueError(f"must start with {schemes} (e.g. redis://localhost:6379/0)")
        return value

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and value.startswith(CLUSTER_SCHEMES):
            raise ValueError(_NO_CLUSTER_BROKER)
        if value is not None and not value.startswith(BROKER_SCHEMES):
            raise ValueError(
                f"must start with {', '.join(BROKER_SCHEMES)} "
                "(e.g. amqp://guest:guest@localhost:5672//)"
            )
        store = info.data.get("redis_url")
        if value is None and store is not None and store.startswith(CLUSTER_SCHEMES):
            raise ValueError(
                "must be set when CELERIAC_REDIS_URL names a Redis Cluster. " + _NO_CLUSTER_BROKER
            )
        return value

    @property
    def broker(self) -> str:
        """The broker's URL: ``broker_url``, else the store's Redis."""
        return self.broker_url or self.redis_url or ""

    @property
    def clustered(self) -> bool:
        """Whether the store is a Redis Cluster."""
        return (self.redis_url or "").startswith(CLUSTER_SCHEMES)


def read_settings() -> Settings:
    """``Settings()`` from the environment; ``ConfigError`` naming each variable at fault.

    ``Settings()`` itself raises pydantic's ``ValidationError``, in the field names.
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError("invalid setting " + "; ".join(map(_problem, exc.errors()))) from exc
    except ValueError as exc:  # a value pydantic-settings cannot even decode
        raise ConfigError(f"invalid CELERIAC_* setting: {exc}") from exc


def _problem(error: ErrorDetails) -> str:
    # The variable is the field (loc[0]); a deeper loc is a part of its value.
    variable = f"CELERIAC_{str(error['loc'][0]).upper()}"
    return f"{variable}: " + error["msg"].removeprefix("Value error, ")
