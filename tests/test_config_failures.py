"""otp.config failure paths: missing keys, bad env shapes, sinks, non-aware servers, watcher."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

import otp
from otp.config import Config, ConfigError, ConfigReloaded, ConfigReloadFailed, load_config


@attrs.frozen
class Db:
    url: str
    hosts: list[str] = attrs.Factory(list)


@attrs.frozen
class Settings:
    db: Db
    limits: dict[str, int] = attrs.Factory(dict)


def problems(**kwargs: Any) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        load_config(Settings, **kwargs)
    return info.value.problems


def test_missing_required_key() -> None:
    assert problems(environ={}) == ("db: missing: it has no default and no layer sets it",)
    assert problems(environ={"OTP_DB__HOSTS": "[]"}) == (
        "db.url: missing: it has no default and no layer sets it",
    )


def test_section_set_from_env_and_list_items() -> None:
    assert problems(environ={"OTP_DB": "x", "OTP_DB__URL": "u"}) == (
        (
            "db: is a section; set its keys one by one, as in OTP_DB__URL "
            "(from environment variable OTP_DB)"
        ),
    )
    assert problems(environ={"OTP_DB__URL": "u", "OTP_DB__HOSTS": "[1]"}) == (
        "db.hosts[0]: expected str, got 1 (from environment variable OTP_DB__HOSTS)",
    )
    settings = load_config(Settings, environ={"OTP_DB__URL": "u", "OTP_DB__HOSTS": '["a"]'})
    assert settings.db.hosts == ["a"]


def test_removed_map_keys_are_reported() -> None:
    before = Settings(Db("u"), {"eu": 1, "us": 2})
    after = Settings(Db("u"), {"eu": 3})
    change = otp.config.diff_configs(before, after)
    assert (dict(change.changed), dict(change.new), tuple(change.removed)) == (
        {"limits.eu": 3},
        {},
        ("limits.us",),
    )


async def test_a_failing_sink_is_logged_and_the_reload_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def sink(event: object) -> None:
        raise RuntimeError("bus down")

    overrides: dict[str, Any] = {"db.url": "a"}
    config = Config(Settings, environ={}, overrides=overrides, sink=sink)
    overrides["db.url"] = "b"
    result = await config.reload()
    assert isinstance(result, ConfigReloaded)
    assert config.value.db.url == "b"
    assert any("sink" in r.message and r.levelno == logging.ERROR for r in caplog.records)


class Plain(otp.GenServer[object, object]):
    async def init(self, config: Config[Settings]) -> None:
        config.register(self.ref)

    async def handle_call(self, request: object, caller: otp.Caller[object]) -> object:
        return "whatever"


async def test_a_server_that_is_not_config_aware_is_reported() -> None:
    overrides: dict[str, Any] = {"db.url": "a"}
    config = Config(Settings, environ={}, overrides=overrides)
    async with otp.open_supervisor([otp.ChildSpec("plain", Plain, (config,))]):
        overrides["db.url"] = "b"
        result = await config.reload()
        assert isinstance(result, ConfigReloaded)
        (delivery,) = result.deliveries
        assert isinstance(delivery.error, TypeError)


async def test_watcher_ignores_same_content_and_reports_a_deleted_file(tmp_path: Path) -> None:
    toml = tmp_path / "app.toml"
    toml.write_text("[db]\nurl = 'a'\n", encoding="utf-8")
    events: list[object] = []
    config = Config(Settings, file=toml, environ={}, sink=events.append)
    async with trio.open_nursery() as nursery:
        await nursery.start(config.watch_file, 1.0)
        os.utime(toml, ns=(5, 5))  # touched, same content
        await trio.sleep(3)
        assert events == []
        toml.unlink()
        await trio.sleep(3)
        nursery.cancel_scope.cancel()
    (event,) = events
    assert isinstance(event, ConfigReloadFailed)
    assert "cannot read the configuration file" in str(event.error)
    assert config.value.db.url == "a"


async def test_watch_file_needs_a_file() -> None:
    config = Config(Settings, environ={}, overrides={"db.url": "a"})
    with pytest.raises(ValueError, match="no file"):
        await config.watch_file()
