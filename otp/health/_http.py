"""An optional HTTP endpoint for the monitor: a hand-written ASGI app served by hypercorn.

Install the ``otp[http]`` extra for :func:`serve_http`; :func:`health_app` needs nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import trio

from ._errors import HealthDeclarationError
from ._monitor import HealthMonitor

__all__ = ["health_app", "serve_http"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _answer(monitor: HealthMonitor, path: str) -> tuple[int, dict[str, Any]]:
    report = monitor.report
    if path == "/healthz":
        alive = report.alive
        return (200 if alive else 503), {
            "alive": alive,
            "status": report.status.value,
            "reasons": list(report.reasons),
        }
    if path == "/readyz":
        ready = report.ready
        return (200 if ready else 503), {
            "ready": ready,
            "started": report.started,
            "status": report.status.value,
            "reasons": list(report.reasons),
        }
    if path == "/health":
        return 200, report.to_dict()
    return 404, {"error": f"no such page {path!r}; try /healthz, /readyz or /health"}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def health_app(monitor: HealthMonitor) -> ASGIApp:
    """An ASGI application answering for ``monitor``.

    * ``GET /healthz`` (liveness): 200 unless a supervisor gave up (or failed to start), then
      503; a restart of the process is what would help.
    * ``GET /readyz`` (readiness): 200 once the tree reported started and its status is not
      Unhealthy, 503 otherwise.
    * ``GET /health``: 200 with the whole :meth:`HealthReport.to_dict` as JSON.

    Every answer is JSON; other paths are 404, other methods 405.

    Example::

        app = otp.health.health_app(monitor)  # mount it in any ASGI server
    """
    given: object = monitor
    if not isinstance(given, HealthMonitor):
        msg = f"health_app: monitor must be an otp.health.HealthMonitor (got {monitor!r})"
        raise HealthDeclarationError(msg)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets here: returning refuses the connection
        if scope["method"] not in {"GET", "HEAD"}:
            status, body = 405, {"error": f"method {scope['method']} not allowed; use GET"}
        else:
            status, body = _answer(monitor, scope["path"])
        payload = json.dumps(body).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if scope["method"] == "HEAD":
            payload = b""
        await send({"type": "http.response.body", "body": payload})

    return app


async def serve_http(
    monitor: HealthMonitor,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve :func:`health_app` over HTTP with hypercorn's Trio worker until cancelled.

    A start-able child: ``task_status.started(url)`` gives the URL it listens on
    (``port=0``, the default, picks a free port). It binds to loopback unless told otherwise.
    Needs the ``otp[http]`` extra.

    Raises:
        HealthDeclarationError: A bad host or port.
        ModuleNotFoundError: hypercorn is not installed.

    Example::

        url = await nursery.start(functools.partial(otp.health.serve_http, monitor))
        # or, in a tree:
        otp.ChildSpec("health-http", functools.partial(otp.health.serve_http, monitor))
    """
    app = health_app(monitor)
    given: object = host
    if not isinstance(given, str) or not given:
        msg = f"serve_http: host must be a non-empty string (got {given!r})"
        raise HealthDeclarationError(msg)
    number: object = port
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 65535:
        msg = f"serve_http: port must be an int from 0 to 65535 (got {number!r})"
        raise HealthDeclarationError(msg)
    try:
        import hypercorn.config  # noqa: PLC0415  (optional extra)
        import hypercorn.trio  # noqa: PLC0415
    except ModuleNotFoundError as error:
        msg = "otp.health.serve_http needs hypercorn: pip install 'otp[http]'"
        raise ModuleNotFoundError(msg) from error
    config = hypercorn.config.Config()
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    config.bind = [bind]
    config.accesslog = None
    config.errorlog = logging.getLogger("otp.health.http")
    async with trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(
            hypercorn.trio.serve,
            app,
            config,
        )
        task_status.started(urls[0])
