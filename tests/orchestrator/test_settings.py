"""Settings read from ``CELERIAC_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from orchestrator.errors import ConfigError
from orchestrator.settings import Settings, read_settings


def rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> str:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    errors = caught.value.errors()
    assert len(errors) == 1
    assert errors[0]["loc"] == (name.removeprefix("CELERIAC_").lower(),)
    return str(errors[0]["msg"])


def test_defaults_with_nothing_set() -> None:
    settings = Settings()
    assert settings.redis_url is None
    assert settings.agent_modules == []
    assert settings.step_lease_seconds == 15.0


@pytest.mark.parametrize(
    ("value", "modules"),
    [
        ("tests.support.sample_agents", ["tests.support.sample_agents"]),
        ("a.b,c", ["a.b", "c"]),
        (" a.b , c ,, d_e.f2 ,", ["a.b", "c", "d_e.f2"]),
        ("", []),
        (" , ", []),
    ],
)
def test_agent_modules_are_comma_separated(
    monkeypatch: pytest.MonkeyPatch, value: str, modules: list[str]
) -> None:
    monkeypatch.setenv("CELERIAC_AGENT_MODULES", value)
    assert Settings().agent_modules == modules


def test_agent_modules_as_a_list_in_code() -> None:
    assert Settings(agent_modules=["a.b", "c"]).agent_modules == ["a.b", "c"]


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        ("my agents", "my agents"),
        ("a.b;c.d", "a.b;c.d"),
        (".relative", ".relative"),
        ("a..b", "a..b"),
        ("1st.agents", "1st.agents"),
        ("a/b.py", "a/b.py"),
        ('["a", "b"]', '["a"'),
    ],
)
def test_agent_modules_that_are_not_module_names(
    monkeypatch: pytest.MonkeyPatch, value: str, bad: str
) -> None:
    message = rejected(monkeypatch, "CELERIAC_AGENT_MODULES", value)
    assert message == (
        f"Value error, {bad!r} is not a module name: give comma-separated dotted names "
        "such as 'myproject.agents,other_agents'"
    )


@pytest.mark.parametrize(
    "url", ["redis://localhost:6379/0", "rediss://:secret@cache:6380/1", "unix:///run/redis.sock"]
)
def test_redis_urls(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("CELERIAC_REDIS_URL", url)
    assert Settings().redis_url == url


@pytest.mark.parametrize("url", ["localhost:6379", "http://localhost:6379", "redis:/x"])
def test_redis_urls_without_a_redis_scheme(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    assert rejected(monkeypatch, "CELERIAC_REDIS_URL", url) == (
        "Value error, must start with redis://, rediss://, unix://, redis+cluster://, "
        "rediss+cluster:// (e.g. redis://localhost:6379/0)"
    )


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERIAC_REDIS_URL", "")
    monkeypatch.setenv("CELERIAC_DATA_DIR", "")
    settings = Settings()
    assert settings.redis_url is None
    assert settings.data_dir.name == "celeriac"


def test_numbers_and_paths_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERIAC_STEP_LEASE_SECONDS", "2.5")
    monkeypatch.setenv("CELERIAC_MAX_PLAN_BYTES", "100")
    monkeypatch.setenv("CELERIAC_DATA_DIR", "/srv/celeriac")
    settings = Settings()
    assert settings.step_lease_seconds == 2.5
    assert settings.max_plan_bytes == 100
    assert settings.data_dir == Path("/srv/celeriac")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CELERIAC_STEP_LEASE_SECONDS", "0", "Input should be greater than 0"),
        ("CELERIAC_STEP_LEASE_SECONDS", "soon", "Input should be a valid number"),
        ("CELERIAC_STEP_MAX_ATTEMPTS", "0", "Input should be greater than or equal to 1"),
        ("CELERIAC_MAX_PLAN_BYTES", "-1", "Input should be greater than 0"),
        ("CELERIAC_MAX_PLAN_STEPS", "1.5", "Input should be a valid integer"),
        ("CELERIAC_EMBEDDED_WORKERS", "0", "Input should be greater than or equal to 1"),
    ],
)
def test_invalid_numbers_are_rejected(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    assert rejected(monkeypatch, name, value).startswith(message)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.max_plan_bytes = 5


def test_a_misspelt_variable_is_an_error_that_suggests_the_right_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CELERIAC_STEP_LEASE_SECOND", "5")
    with pytest.raises(
        ConfigError,
        match="unknown setting CELERIAC_STEP_LEASE_SECOND; did you "
        "mean CELERIAC_STEP_LEASE_SECONDS",
    ):
        Settings()


def test_a_cluster_store_needs_a_broker_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERIAC_REDIS_URL", "redis+cluster://127.0.0.1:7000/0")
    with pytest.raises(ConfigError, match="Celery cannot use a Redis Cluster as its broker"):
        read_settings()
    monkeypatch.setenv("CELERIAC_BROKER_URL", "redis+cluster://127.0.0.1:7000/0")
    with pytest.raises(ConfigError, match="CELERIAC_BROKER_URL: Celery cannot use a Redis"):
        read_settings()
    monkeypatch.setenv("CELERIAC_BROKER_URL", "amqp://u:p@rabbit:5672/")
    settings = read_settings()
    assert settings.clustered and settings.broker == "amqp://u:p@rabbit:5672/"
    monkeypatch.delenv("CELERIAC_BROKER_URL")
    assert not Settings(redis_url="redis://r:6379/0").clustered
    assert Settings(redis_url="redis://r:6379/0").broker == "redis://r:6379/0"
