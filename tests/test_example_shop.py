"""The example application, examples/shop, as a real process: signals, exit codes, endpoints."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from .processes import WAIT, Process

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
httpx = pytest.importorskip("httpx")
pytest.importorskip("hypercorn")

FAST = {"SHOP_FEED__INTERVAL": "0.05"}  # the feed crashes every third fetch: 0.15 s apart


@pytest.fixture
def shop() -> Iterator[Any]:
    started: list[Process] = []

    def start(env: dict[str, str] | None = None) -> Process:
        process = Process([sys.executable, "-m", "examples.shop.app"], env={**FAST, **(env or {})})
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


def url_from(process: Process, what: str) -> str:
    process.wait_for(f"{what}: http://")
    return process.seen[-1].split(": ", 1)[1]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_the_shop_heals_serves_its_endpoints_and_stops_in_order(shop, signum, code) -> None:
    process = shop()
    health = url_from(process, "health-http")
    metrics = url_from(process, "metrics-http")
    process.wait_for("app.started shop")
    # The feed crashes by design; its supervisor restarts it.
    process.wait_for("child.exited shop/feeds/prices")
    process.wait_for("child.started shop/feeds/prices")
    with httpx.Client(timeout=WAIT) as client:
        alive = client.get(health + "/healthz")
        assert alive.status_code == 200
        assert json.loads(alive.content)["alive"] is True
        text = client.get(metrics).text
    assert 'otp_child_restarts_total{supervisor="shop/feeds",child="prices"}' in text
    assert 'otp_calls_total{server="\'cache\' (PriceCache)",outcome="ok"}' in text
    process.proc.send_signal(signum)
    returncode, lines, stderr = process.finish()
    assert returncode == code, stderr
    stopped = [line.rsplit(" ", 1)[1] for line in lines if " child.terminated shop/" in line]
    # Reverse start order; the event log, started first, stops last and logs all the others.
    assert stopped == [
        "shop/announce",
        "shop/metrics-http",
        "shop/health-http",
        "shop/health",
        "shop/feeds/prices",
        "shop/feeds",
        "shop/cache",
    ]
    assert lines.index("cache: stopping") < lines.index("event-log: stopping")
    assert f"exit code {code}" in lines[-1]


def test_a_bad_config_value_names_its_key_and_layer(shop) -> None:
    process = shop({"SHOP_CACHE__SIZE": "lots"})
    returncode, _, stderr = process.finish()
    assert returncode == 2
    assert "cache.size" in stderr
    assert "SHOP_CACHE__SIZE" in stderr


def test_an_unknown_environment_key_is_refused(shop) -> None:
    process = shop({"SHOP_CACHE__SIZZE": "5"})
    returncode, _, stderr = process.finish()
    assert returncode == 2
    assert "sizze" in stderr.lower()


def test_sighup_reloads_the_config_file_into_the_cache(shop, tmp_path) -> None:
    settings = tmp_path / "shop.toml"
    settings.write_text("[cache]\nsize = 100\n", encoding="utf-8")
    process = shop({"SHOP_CONFIG_FILE": str(settings), "SHOP_FEED__INTERVAL": "60"})
    process.wait_for("cache: up, size 100")
    process.wait_for("app.started shop")
    settings.write_text("[cache]\nsize = 7\n", encoding="utf-8")
    process.proc.send_signal(signal.SIGHUP)
    process.wait_for("cache: size now 7")
    settings.write_text("[cache]\nsize = -\n", encoding="utf-8")  # not TOML: refused
    process.proc.send_signal(signal.SIGHUP)
    process.wait_for("app.reload_failed shop")
    process.proc.send_signal(signal.SIGTERM)
    returncode, _, stderr = process.finish()
    assert returncode == 143, stderr
