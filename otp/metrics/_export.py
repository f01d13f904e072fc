"""Exporters: Prometheus text over HTTP, prometheus-client, and OpenTelemetry meters.

Each exporter reads the same :class:`Metrics` registry when asked, so keeping metrics costs
the same whichever exporter (or none) is installed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import trio

from ._errors import MetricsError
from ._instruments import Counter, Gauge, Histogram, Metrics

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def metrics_app(metrics: Metrics, *, path: str = "/metrics") -> ASGIApp:
    """An ASGI app answering ``GET path`` with :meth:`Metrics.render_prometheus`.

    Other paths are 404, other methods 405. No dependency: serve it with any ASGI server, or
    with :func:`serve_metrics`.

    Example::

        app = otp.metrics.metrics_app(tree_metrics.metrics)
    """

    async def app(
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["path"] != path:
            status, body, headers = 404, b"not found\n", [(b"content-type", b"text/plain")]
        elif scope["method"] not in ("GET", "HEAD"):
            status, body = 405, b"method not allowed\n"
            headers = [(b"content-type", b"text/plain"), (b"allow", b"GET, HEAD")]
        else:
            status, body = 200, metrics.render_prometheus().encode()
            headers = [(b"content-type", CONTENT_TYPE.encode())]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        head = scope["method"] == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head else body})

    return app


async def serve_metrics(
    metrics: Metrics,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve :func:`metrics_app` over HTTP with hypercorn's Trio worker until cancelled.

    A start-able child: ``task_status.started(url)`` gives the URL it listens on (``port=0``
    picks a free port); loopback unless told otherwise. Needs the ``otp[http]`` extra.

    Example::

        spec = otp.ChildSpec("metrics-http", functools.partial(otp.metrics.serve_metrics, m))
    """
    app = metrics_app(metrics)
    given: object = host
    if not isinstance(given, str) or not given:
        msg = f"serve_metrics: host must be a non-empty string (got {given!r})"
        raise MetricsError(msg)
    number: object = port
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 65535:
        msg = f"serve_metrics: port must be an int from 0 to 65535 (got {number!r})"
        raise MetricsError(msg)
    try:
        import hypercorn.config  # noqa: PLC0415  (optional extra)
        import hypercorn.trio  # noqa: PLC0415
    except ModuleNotFoundError as error:
        msg = "otp.metrics.serve_metrics needs hypercorn: pip install 'otp[http]'"
        raise ModuleNotFoundError(msg) from error
    config = hypercorn.config.Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("otp.metrics.http")
    async with trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(hypercorn.trio.serve, app, config)
        task_status.started(urls[0] + "/metrics")


class PrometheusCollector:
    """A prometheus-client collector that reads a :class:`Metrics` registry at each scrape.

    Made by :func:`prometheus_collector`; register it with a ``CollectorRegistry``.
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        """The registry's metrics as prometheus-client metric families."""
        from prometheus_client.core import (  # noqa: PLC0415  (optional extra)
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        for metric in self.metrics.collect():
            names = list(metric.label_names)
            if isinstance(metric, Counter):
                family: Any = CounterMetricFamily(
                    metric.name.removesuffix("_total"), metric.help, labels=names
                )
                for labels, value in metric.values.items():
                    family.add_metric(list(labels), value)
            elif isinstance(metric, Gauge):
                family = GaugeMetricFamily(metric.name, metric.help, labels=names)
                for labels, value in metric.values.items():
                    family.add_metric(list(labels), value)
            else:
                family = HistogramMetricFamily(metric.name, metric.help, labels=names)
                for labels in metric.counts:
                    family.add_metric(list(labels), metric.cumulative(labels), metric.sums[labels])
            yield family


def prometheus_collector(metrics: Metrics, *, registry: Any = None) -> PrometheusCollector:  # noqa: ANN401
    """Register ``metrics`` with prometheus-client (``otp[prometheus]``) and return it.

    Args:
        metrics: The registry to export.
        registry: A ``prometheus_client.CollectorRegistry``; the default is
            ``prometheus_client.REGISTRY``.

    Example::

        otp.metrics.prometheus_collector(tree_metrics.metrics)
        # then any prometheus_client exposition: generate_latest(), make_asgi_app(), ...
    """
    try:
        import prometheus_client  # noqa: PLC0415  (optional extra)
    except ModuleNotFoundError as error:
        msg = (
            "otp.metrics.prometheus_collector needs prometheus-client: "
            "pip install 'otp[prometheus]'"
        )
        raise ModuleNotFoundError(msg) from error
    collector = PrometheusCollector(metrics)
    target = prometheus_client.REGISTRY if registry is None else registry
    target.register(collector)
    return collector


def instrument_otel(metrics: Metrics, meter: Any) -> list[Any]:  # noqa: ANN401
    """Expose ``metrics`` as OpenTelemetry observable instruments of ``meter`` (``otp[otel]``).

    Counters become observable counters, gauges observable gauges, and each histogram an
    observable counter of its observations (``<name>_count``) and one of their sum
    (``<name>_sum``): the OpenTelemetry API has no observable histogram. Values are read
    when the SDK collects. The metrics registered so far are exported; call it after the
    metrics are declared (:class:`TreeMetrics` declares all of its own at once).

    Returns:
        The instruments made.

    Example::

        meter = opentelemetry.metrics.get_meter("shop")
        otp.metrics.instrument_otel(tree_metrics.metrics, meter)
    """
    try:
        from opentelemetry.metrics import CallbackOptions, Observation  # noqa: PLC0415
    except ModuleNotFoundError as error:
        msg = "otp.metrics.instrument_otel needs opentelemetry-api: pip install 'otp[otel]'"
        raise ModuleNotFoundError(msg) from error

    def reader(name: str, part: str) -> Callable[[CallbackOptions], list[Any]]:
        def read(options: CallbackOptions) -> list[Any]:
            metric = metrics.get(name)
            if metric is None:
                return []
            if isinstance(metric, Gauge):  # the only values read on demand
                metrics.collect()
            observations = []
            if isinstance(metric, Histogram):
                source: dict[tuple[str, ...], float] = (
                    {labels: float(sum(counts)) for labels, counts in metric.counts.items()}
                    if part == "_count"
                    else dict(metric.sums)
                )
            else:
                source = dict(metric.values)
            for labels, value in source.items():
                attributes = dict(zip(metric.label_names, labels, strict=True))
                observations.append(Observation(value, attributes))
            return observations

        return read

    instruments: list[Any] = []
    for metric in metrics.collect():
        if isinstance(metric, Counter):
            instruments.append(
                meter.create_observable_counter(
                    metric.name, [reader(metric.name, "")], description=metric.help
                )
            )
        elif isinstance(metric, Gauge):
            instruments.append(
                meter.create_observable_gauge(
                    metric.name, [reader(metric.name, "")], description=metric.help
                )
            )
        else:
            instruments.extend(
                meter.create_observable_counter(
                    metric.name + part, [reader(metric.name, part)], description=metric.help
                )
                for part in ("_count", "_sum")
            )
    return instruments
