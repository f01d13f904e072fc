"""The shop: a tree of servers with configuration, health, metrics and an event log.

Run it from the repository root::

    python -m examples.shop.app            # Ctrl-C stops it (exit 130), SIGTERM too (143)

It prints the URLs of its health and metrics endpoints, then one line per event on its bus.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

import otp
import otp.app
import otp.config
import otp.events
import otp.health
import otp.metrics

HERE = Path(__file__).resolve().parent


@attrs.frozen
class Http:
    """Where the endpoints listen (port 0: a free one)."""

    host: str = "127.0.0.1"
    health_port: int = 0
    metrics_port: int = 0


@attrs.frozen
class Cache:
    """The price cache's bound."""

    size: int = 100


@attrs.frozen
class Feed:
    """How often the feed fetches, and how often its upstream drops."""

    interval: float = 2.0
    crash_every: int = 3


@attrs.frozen
class Settings:
    """The whole configuration: shop.toml, then SHOP_* variables."""

    http: Http = Http()
    cache: Cache = Cache()
    feed: Feed = Feed()


def say(*parts: object) -> None:
    """Print a line at once (the tests read it through a pipe)."""
    print(*parts, flush=True)


class PriceCache(otp.config.ConfigAware[tuple[Any, ...], object]):
    """Keeps the latest prices; ``("get", sku)`` and ``("put", sku, price)``."""

    async def init(self, config: otp.config.Config[Settings]) -> None:
        self.size = config.value.cache.size
        self.prices: dict[str, float] = {}
        config.register(self.ref)
        say("cache: up, size", self.size)

    async def handle_call(self, request: tuple[Any, ...], caller: otp.Caller[Any]) -> object:
        if request[0] == "get":
            return self.prices.get(request[1])
        _, sku, price = request
        if len(self.prices) >= self.size and sku not in self.prices:
            self.prices.pop(next(iter(self.prices)))
        self.prices[sku] = price
        return True

    async def config_change(
        self, changed: Mapping[str, Any], new: Mapping[str, Any], removed: Sequence[str]
    ) -> None:
        self.size = changed.get("cache.size", self.size)
        say("cache: size now", self.size)

    async def terminate(self, reason: otp.ExitReason) -> None:
        say("cache: stopping")


async def feed(
    config: otp.config.Config[Settings],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Fetches prices into the cache; its upstream drops now and then (a crash)."""
    cache = otp.named("cache")
    task_status.started()
    fetches = 0
    try:
        while True:
            await trio.sleep(config.value.feed.interval)
            fetches += 1
            if fetches % config.value.feed.crash_every == 0:
                raise ConnectionError("upstream dropped the connection")
            await cache.call(("put", f"sku-{fetches}", 9.99 + fetches))
    finally:
        say("feed: stopping")


async def event_log(
    bus: otp.events.EventBus, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Prints every event on the bus, one line each."""
    async with bus.subscribe(buffer=10_000) as events:
        task_status.started()
        try:
            async for event in events:
                say(f"event #{event.id} {event.type} {event.source}")
        finally:
            # Stopped last: what the others reported while stopping is still buffered.
            while True:
                try:
                    event = events.receive_nowait()
                except trio.WouldBlock:
                    break
                say(f"event #{event.id} {event.type} {event.source}")
            say("event-log: stopping")


async def announce(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Prints the URLs of the endpoints its siblings started before it."""
    child = otp.current_child()
    assert child is not None
    supervisor = child.supervisor
    assert isinstance(supervisor, otp.Supervisor)
    for what in ("health-http", "metrics-http"):
        endpoint = supervisor.get_child(what)
        assert endpoint is not None
        say(f"{what}: {endpoint.value}")
    task_status.started()
    await trio.sleep_forever()


def build(config: otp.config.Config[Settings]) -> tuple[list[otp.ChildSpec], Any, Any]:
    """The tree, its hooks and its bus."""
    settings = config.value
    bus = otp.events.EventBus(store=otp.events.MemoryEventStore(max_events=10_000))
    tree_metrics = otp.metrics.TreeMetrics()

    async def cache_ready() -> bool:
        return otp.named("cache").alive

    monitor = otp.health.HealthMonitor(
        {"shop/cache": [otp.health.Check("alive", cache_ready, timeout=1, interval=1)]},
        on_change=[lambda change: bus.publish_nowait("health.changed", change, source=change.path)],
    )
    health_http = functools.partial(
        otp.health.serve_http, monitor, host=settings.http.host, port=settings.http.health_port
    )
    metrics_http = functools.partial(
        otp.metrics.serve_metrics,
        tree_metrics.metrics,
        host=settings.http.host,
        port=settings.http.metrics_port,
    )
    tree = [
        otp.ChildSpec("event-log", event_log, (bus,)),
        PriceCache.child_spec(config, id="cache", name="cache"),
        otp.supervisor_spec(
            "feeds", [otp.ChildSpec("prices", feed, (config,))], intensity=5, period=10
        ),
        monitor.child_spec(),
        otp.ChildSpec("health-http", health_http),
        otp.ChildSpec("metrics-http", metrics_http),
        otp.ChildSpec("announce", announce),
    ]
    hooks = [monitor.hook, tree_metrics.hook, otp.events.report_to(bus)]
    return tree, hooks, (bus, tree_metrics)


def _settings_environ() -> dict[str, str]:
    # SHOP_CONFIG_FILE says where the file is; it is not a setting.
    return {key: value for key, value in os.environ.items() if key != "SHOP_CONFIG_FILE"}


def main(argv: list[str]) -> int:
    """Load the configuration, run the shop until a signal, return the exit code."""
    try:
        file = os.environ.get("SHOP_CONFIG_FILE", HERE / "shop.toml")
        config = otp.config.Config(
            Settings, file=file, env_prefix="SHOP_", environ=_settings_environ()
        )
    except otp.config.ConfigError as error:
        print(f"shop: {error}", file=sys.stderr)
        return 2
    tree, hooks, (bus, tree_metrics) = build(config)
    publish = otp.events.report_to(bus)

    def on_event(event: otp.app.AppEvent) -> None:
        publish(event)
        say(f"app: {event}")

    with otp.observe_calls(tree_metrics.on_call):
        return int(
            otp.app.run(
                tree,
                name="shop",
                shutdown_timeout=10,
                hooks=hooks,
                on_event=on_event,
                on_reload=config.reload,
            )
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
