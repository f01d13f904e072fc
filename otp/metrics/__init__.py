"""Metrics of a supervision tree: counters, gauges and histograms, and their exporters.

A :class:`Metrics` registry holds the values; :class:`TreeMetrics` keeps otp's own in it
(restarts, exits by reason, calls by outcome, call latency, mailbox depth, breaker state and
rejections, phi), fed by a supervisor hook and a call observer (:func:`otp.observe_calls`).
Export them as Prometheus text (:meth:`Metrics.render_prometheus`, :func:`metrics_app`,
:func:`serve_metrics` with ``otp[http]``), through prometheus-client
(:func:`prometheus_collector`, ``otp[prometheus]``) or OpenTelemetry meters
(:func:`instrument_otel`, ``otp[otel]``). Without a hook or an observer, the kernel pays
nothing for any of it.

It uses only the public ``otp`` API; the kernel knows nothing of it.

Example::

    tree_metrics = otp.metrics.TreeMetrics()
    with otp.observe_calls(tree_metrics.on_call):
        async with otp.open_supervisor(children, hooks=[tree_metrics.hook]):
            ...
"""

from ._errors import MetricsError as MetricsError
from ._export import PrometheusCollector as PrometheusCollector
from ._export import instrument_otel as instrument_otel
from ._export import metrics_app as metrics_app
from ._export import prometheus_collector as prometheus_collector
from ._export import serve_metrics as serve_metrics
from ._instruments import LATENCY_BUCKETS as LATENCY_BUCKETS
from ._instruments import Counter as Counter
from ._instruments import Gauge as Gauge
from ._instruments import Histogram as Histogram
from ._instruments import Metrics as Metrics
from ._instruments import Sample as Sample
from ._tree import TreeMetrics as TreeMetrics
from ._tree import call_outcome as call_outcome

__all__ = [
    "LATENCY_BUCKETS",
    "Counter",
    "Gauge",
    "Histogram",
    "Metrics",
    "MetricsError",
    "PrometheusCollector",
    "Sample",
    "TreeMetrics",
    "call_outcome",
    "instrument_otel",
    "metrics_app",
    "prometheus_collector",
    "serve_metrics",
]
