"""otp.config: layers and their precedence, validation messages, reload, config_change."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.lowlevel
from hypothesis import given
from hypothesis import strategies as st

import otp
from otp.config import (
    Config,
    ConfigAware,
    ConfigError,
    ConfigReloaded,
    ConfigReloadFailed,
    Layer,
    load_config,
)


@attrs.frozen
class Db:
    url: str = "sqlite://"
    pool_size: int = 5


@attrs.frozen
class Settings:
    db: Db = Db()
    debug: bool = False
    limits: dict[str, int] = attrs.Factory(dict)


def problems(**kwargs: Any) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        load_config(Settings, **kwargs)
    return info.value.problems


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    toml = write(tmp_path / "app.toml", "debug = true\n[db]\npool_size = 7\nurl = 'pg://file'\n")
    assert load_config(Settings, environ={}).db.pool_size == 5
    assert load_config(Settings, file=toml, environ={}).db.pool_size == 7
    env = {"OTP_DB__POOL_SIZE": "8"}
    settings = load_config(Settings, file=toml, environ=env)
    assert (settings.db.pool_size, settings.db.url, settings.debug) == (8, "pg://file", True)
    over = load_config(Settings, file=toml, environ=env, overrides={"db.pool_size": 9})
    assert over.db == Db("pg://file", 9)


def test_user_prefix_maps_and_origins(tmp_path: Path) -> None:
    env = {"SHOP_LIMITS__EU": "3", "SHOP_DEBUG": "yes", "OTP_UNRELATED": "x"}
    config = Config(Settings, env_prefix="SHOP_", environ=env, overrides={"db": {"url": "o"}})
    assert config.value.limits == {"eu": 3}
    assert config.value.debug is True
    assert config.origin("limits.eu") == otp.config.Origin(Layer.ENV, "SHOP_LIMITS__EU")
    assert config.origin("db.url").layer is Layer.OVERRIDE
    assert config.origin("db.pool_size").layer is Layer.DEFAULT


def test_messages_name_the_key_and_the_layer(tmp_path: Path) -> None:
    toml = write(tmp_path / "app.toml", "[db]\nurl = 3\n")
    assert problems(environ={"OTP_DB__POOL_SIZE": "ten"}) == (
        "db.pool_size: expected int, got 'ten' (from environment variable OTP_DB__POOL_SIZE)",
    )
    assert problems(file=toml, environ={}) == (f"db.url: expected str, got 3 (from file {toml})",)
    assert problems(environ={}, overrides={"debug": "no"}) == (
        "debug: expected bool, got 'no' (from an override)",
    )
    assert problems(environ={"OTP_DEBUG": "maybe"}) == (
        (
            "debug: expected bool (true/false, 1/0, yes/no, on/off), got 'maybe' "
            "(from environment variable OTP_DEBUG)"
        ),
    )


def test_unknown_keys_are_errors_with_a_suggestion(tmp_path: Path) -> None:
    assert problems(environ={"OTP_DB__POOL_SIZ": "1"}) == (
        (
            "db.pool_siz: unknown key (did you mean OTP_DB__POOL_SIZE?) "
            "(from environment variable OTP_DB__POOL_SIZ)"
        ),
    )
    toml = write(tmp_path / "app.toml", "[db]\npool = 3\n")
    assert problems(file=toml, environ={}) == (
        f"db.pool: unknown key (did you mean 'pool_size'?) (from file {toml})",
    )


def test_bad_toml_names_file_and_line(tmp_path: Path) -> None:
    toml = write(tmp_path / "app.toml", "[db]\npool_size = = 3\n")
    (problem,) = problems(file=toml, environ={})
    assert problem.startswith(f"{toml}:2: invalid TOML")


def test_every_problem_is_reported_at_once() -> None:
    found = problems(environ={"OTP_DB__POOL_SIZE": "x", "OTP_NOPE": "1"})
    assert len(found) == 2


@given(
    file=st.none() | st.integers(0, 99),
    env=st.none() | st.integers(0, 99),
    override=st.none() | st.integers(0, 99),
)
def test_precedence_matches_a_dict_merge(
    tmp_path_factory: pytest.TempPathFactory,
    file: int | None,
    env: int | None,
    override: int | None,
) -> None:
    path = tmp_path_factory.mktemp("p") / "app.toml"
    path.write_text("" if file is None else f"[db]\npool_size = {file}\n", encoding="utf-8")
    model: dict[str, int] = {"db.pool_size": 5}
    for layer in (file, env, override):
        if layer is not None:
            model = {**model, "db.pool_size": layer}
    settings = load_config(
        Settings,
        file=path,
        environ={} if env is None else {"OTP_DB__POOL_SIZE": str(env)},
        overrides=None if override is None else {"db.pool_size": override},
    )
    assert settings.db.pool_size == model["db.pool_size"]


async def test_file_change_reloads_and_wakes_subscribers(tmp_path: Path) -> None:
    toml = write(tmp_path / "app.toml", "[db]\npool_size = 1\n")
    events: list[object] = []
    config = Config(Settings, file=toml, environ={}, sink=events.append)
    async with trio.open_nursery() as nursery:
        await nursery.start(config.watch_file, 1.0)
        write(toml, "[db]\npool_size = 2\n")
        os.utime(toml, ns=(1, 1))
        await config.value_holder.wait_value(lambda s: s.db.pool_size == 2)
        nursery.cancel_scope.cancel()
    (event,) = events
    assert isinstance(event, ConfigReloaded)
    assert event.trigger == "file"
    assert dict(event.change.changed) == {"db.pool_size": 2}


async def test_bad_reload_keeps_the_old_value_and_reports(tmp_path: Path) -> None:
    toml = write(tmp_path / "app.toml", "[db]\npool_size = 1\n")
    events: list[object] = []
    config = Config(Settings, file=toml, environ={}, sink=events.append)
    write(toml, "[db]\npool_size = 'lots'\n")
    result = await config.reload(trigger="SIGHUP")
    assert isinstance(result, ConfigReloadFailed)
    assert events == [result]
    assert result.error.problems == (f"db.pool_size: expected int, got 'lots' (from file {toml})",)
    assert config.value.db.pool_size == 1


def test_first_load_raises() -> None:
    with pytest.raises(ConfigError, match="pool_size"):
        Config(Settings, environ={"OTP_DB__POOL_SIZE": "x"})


class Pool(ConfigAware[str, object]):
    async def init(self, config: Config[Settings]) -> None:
        self.size = config.value.db.pool_size
        self.seen: list[tuple[object, ...]] = []
        config.register(self.ref, section="db")

    async def config_change(self, changed: Any, new: Any, removed: Any) -> None:
        self.seen.append((dict(changed), self.ref.name, otp.current_child() is not None))
        self.size = changed["db.pool_size"]

    async def handle_call(self, request: str, caller: otp.Caller[object]) -> object:
        return (self.size, self.seen) if request == "get" else None


async def test_config_change_runs_inside_the_server_task() -> None:
    overrides: dict[str, Any] = {"db.pool_size": 1}
    config = Config(Settings, environ={}, overrides=overrides)
    spec = otp.ChildSpec("pool", Pool, (config,))
    async with otp.open_supervisor([spec]) as sup:
        pool = sup.get_child("pool").value  # type: ignore[union-attr]
        overrides["db.pool_size"] = 4
        result = await config.reload()
        assert isinstance(result, ConfigReloaded)
        assert [d.error for d in result.deliveries] == [None]
        size, seen = await pool.call("get")
        assert size == 4
        assert seen == [({"db.pool_size": 4}, None, True)]
        overrides["debug"] = True  # outside the pool's section: not delivered
        result = await config.reload()
        assert result.deliveries == ()  # type: ignore[union-attr]


async def test_config_change_failure_is_reported_and_the_server_restarts() -> None:
    class Fragile(Pool):
        async def config_change(self, changed: Any, new: Any, removed: Any) -> None:
            raise RuntimeError("cannot resize")

    overrides: dict[str, Any] = {"db.pool_size": 1}
    config = Config(Settings, environ={}, overrides=overrides)
    restarted = trio.Event()

    def hook(event: otp.SupervisorEvent) -> None:
        if isinstance(event, otp.ChildStarted) and event.restart:
            restarted.set()

    spec = otp.ChildSpec("pool", Fragile, (config,))
    async with otp.open_supervisor([spec], hooks=[hook]) as sup:
        overrides["db.pool_size"] = 2
        result = await config.reload()
        assert isinstance(result, ConfigReloaded)
        (delivery,) = result.deliveries
        assert isinstance(delivery.error, otp.ServerExited)
        await restarted.wait()
        pool = sup.get_child("pool").value  # type: ignore[union-attr]
        size, _ = await pool.call("get")
        assert size == 2  # the restarted server read the new value in init
