"""Pure: counters, gauges and histograms with labels, and the registry that holds them."""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Literal, TypeAlias, TypeVar, final

import attrs

from ._errors import MetricsError

Labels: TypeAlias = tuple[str, ...]
Kind: TypeAlias = Literal["counter", "gauge", "histogram"]

LATENCY_BUCKETS = (
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Seconds: from 25 µs (a call to a server that replies at once) to 10 s."""

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


@final
@attrs.frozen
class Sample:
    """One value of a metric: its full name, label values and value.

    Example::

        >>> otp.metrics.Sample("otp_restarts_total", {"supervisor": "root"}, 3.0)
        Sample(name='otp_restarts_total', labels={'supervisor': 'root'}, value=3.0)
    """

    name: str
    labels: dict[str, str]
    value: float


class _Metric:
    __slots__ = ("help", "label_names", "name", "values")
    kind: Kind

    def __init__(self, name: str, help: str, label_names: Sequence[str]) -> None:  # noqa: A002
        self.name = name
        self.help = help
        self.label_names = tuple(label_names)
        self.values: dict[Labels, float] = {}

    def _check(self, labels: Labels) -> None:
        if len(labels) != len(self.label_names):
            msg = (
                f"metric {self.name!r} takes labels {self.label_names} "
                f"(got {len(labels)} values: {labels!r})"
            )
            raise MetricsError(msg)

    def samples(self) -> Iterator[Sample]:
        """Every value, with its labels."""
        for labels, value in self.values.items():
            yield Sample(self.name, dict(zip(self.label_names, labels, strict=True)), value)


@final
class Counter(_Metric):
    """A value that only goes up (restarts, calls); made by :meth:`Metrics.counter`.

    Example::

        calls = metrics.counter("calls_total", "Calls made.", ["outcome"])
        calls.inc(("ok",))
    """

    __slots__ = ()
    kind: Kind = "counter"

    def inc(self, labels: Labels = (), amount: float = 1.0) -> None:
        """Add ``amount`` (``>= 0``) to the value for ``labels``."""
        values = self.values
        value = values.get(labels)
        if value is None:
            self._check(labels)
            value = 0.0
        if amount < 0:
            msg = f"counter {self.name!r} only goes up (got inc by {amount!r})"
            raise MetricsError(msg)
        values[labels] = value + amount


@final
class Gauge(_Metric):
    """A value that goes up and down (children running, mailbox depth, breaker state).

    Example::

        running = metrics.gauge("children_running", "Children running.", ["supervisor"])
        running.set(3, ("root",))
    """

    __slots__ = ()
    kind: Kind = "gauge"

    def set(self, value: float, labels: Labels = ()) -> None:
        """Set the value for ``labels``."""
        if labels not in self.values:
            self._check(labels)
        self.values[labels] = float(value)

    def add(self, amount: float, labels: Labels = ()) -> None:
        """Add ``amount`` (maybe negative) to the value for ``labels``."""
        values = self.values
        value = values.get(labels)
        if value is None:
            self._check(labels)
            value = 0.0
        values[labels] = value + amount

    def remove(self, labels: Labels) -> None:
        """Forget the value for ``labels`` (a child that is gone for good)."""
        self.values.pop(labels, None)


@final
class Histogram(_Metric):
    """Counts of observations per bucket, with their sum (call latency).

    Example::

        latency = metrics.histogram("call_seconds", "Call round trips.", ["server"])
        latency.observe(0.000_12, ("cache",))
    """

    __slots__ = ("buckets", "counts", "sums")
    kind: Kind = "histogram"

    def __init__(
        self,
        name: str,
        help: str,  # noqa: A002
        label_names: Sequence[str],
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(name, help, label_names)
        bounds = tuple(float(bound) for bound in buckets)
        if not bounds or list(bounds) != sorted(set(bounds)) or not math.isfinite(bounds[-1]):
            msg = f"histogram {name!r}: buckets must be finite, increasing and distinct"
            raise MetricsError(msg)
        self.buckets = bounds
        self.counts: dict[Labels, list[int]] = {}
        self.sums: dict[Labels, float] = {}

    def observe(self, value: float, labels: Labels = ()) -> None:
        """Count ``value`` in its bucket (and in the sum and count) for ``labels``."""
        counts = self.counts.get(labels)
        if counts is None:
            self._check(labels)
            counts = self.counts[labels] = [0] * (len(self.buckets) + 1)
            self.sums[labels] = 0.0
        counts[bisect_left(self.buckets, value)] += 1
        self.sums[labels] += value

    def cumulative(self, labels: Labels) -> list[tuple[str, float]]:
        """``(le, count)`` per bucket for ``labels``, counts cumulative, ending at ``+Inf``."""
        running = 0
        buckets = []
        for bound, count in zip((*self.buckets, math.inf), self.counts[labels], strict=True):
            running += count
            buckets.append(("+Inf" if bound == math.inf else f"{bound:g}", float(running)))
        return buckets

    def samples(self) -> Iterator[Sample]:
        """Cumulative ``_bucket`` samples (``le`` label), then ``_sum`` and ``_count``."""
        for labels in self.counts:
            named = dict(zip(self.label_names, labels, strict=True))
            buckets = self.cumulative(labels)
            for le, count in buckets:
                yield Sample(f"{self.name}_bucket", {**named, "le": le}, count)
            yield Sample(f"{self.name}_sum", named, self.sums[labels])
            yield Sample(f"{self.name}_count", named, buckets[-1][1])


Metric: TypeAlias = Counter | Gauge | Histogram
M = TypeVar("M", Counter, Gauge, Histogram)


@final
class Metrics:
    """A registry of metrics; each is made once by name and found again by it.

    Example::

        metrics = otp.metrics.Metrics()
        metrics.counter("jobs_total", "Jobs done.").inc()
        print(metrics.render_prometheus())
    """

    __slots__ = ("_collectors", "_metrics")

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self._collectors: list[Callable[[], object]] = []

    def on_collect(self, refresh: Callable[[], object]) -> None:
        """Call ``refresh`` at each :meth:`collect`, to update values read on demand."""
        self._collectors.append(refresh)

    def collect(self) -> list[Metric]:
        """Refresh the values read on demand, then every metric (for exporters)."""
        for refresh in self._collectors:
            refresh()
        return list(self._metrics.values())

    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Counter:  # noqa: A002
        """The counter called ``name``, made now if new."""
        return self._get(Counter, name, labels, lambda: Counter(name, help, labels))

    def gauge(self, name: str, help: str, labels: Sequence[str] = ()) -> Gauge:  # noqa: A002
        """The gauge called ``name``, made now if new."""
        return self._get(Gauge, name, labels, lambda: Gauge(name, help, labels))

    def histogram(
        self,
        name: str,
        help: str,  # noqa: A002
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        """The histogram called ``name``, made now if new."""
        return self._get(Histogram, name, labels, lambda: Histogram(name, help, labels, buckets))

    def _get(self, wanted: type[M], name: str, labels: Sequence[str], make: Callable[[], M]) -> M:
        existing = self._metrics.get(name)
        if existing is None:
            _check_names(name, labels)
            made = make()
            self._metrics[name] = made
            return made
        if not isinstance(existing, wanted) or existing.label_names != tuple(labels):
            msg = (
                f"metric {existing.name!r} is already a {existing.kind} with labels "
                f"{existing.label_names} (asked for a {wanted.kind} with {tuple(labels)})"
            )
            raise MetricsError(msg)
        return existing

    def __iter__(self) -> Iterator[Metric]:
        return iter(list(self._metrics.values()))

    def get(self, name: str) -> Metric | None:
        """The metric called ``name``, if there is one."""
        return self._metrics.get(name)

    def value(self, name: str, **labels: str) -> float:
        """One sample's value (``0.0`` if it has none yet), freshly collected: for tests.

        Example::

            assert metrics.value("otp_child_restarts_total", supervisor="root", child="db") == 1
        """
        for metric in self.collect():
            for sample in metric.samples():
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0.0

    def render_prometheus(self) -> str:
        """Every metric in Prometheus's text exposition format (version 0.0.4)."""
        lines: list[str] = []
        for metric in self.collect():
            lines.append(f"# HELP {metric.name} {_escape_help(metric.help)}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            for sample in metric.samples():
                if sample.labels:
                    pairs = ",".join(
                        f'{key}="{_escape_label(value)}"' for key, value in sample.labels.items()
                    )
                    lines.append(f"{sample.name}{{{pairs}}} {_number(sample.value)}")
                else:
                    lines.append(f"{sample.name} {_number(sample.value)}")
        return "\n".join(lines) + "\n"


def _check_names(name: object, labels: Sequence[object]) -> None:
    if not isinstance(name, str) or _NAME.match(name) is None:
        msg = f"a metric name must match [a-zA-Z_:][a-zA-Z0-9_:]* (got {name!r})"
        raise MetricsError(msg)
    if isinstance(labels, str):
        msg = f"metric {name!r}: labels must be a list of label names (got the string {labels!r})"
        raise MetricsError(msg)
    for label in labels:
        if not isinstance(label, str) or _LABEL.match(label) is None or label == "le":
            msg = f"metric {name!r}: bad label name {label!r} (and 'le' is the histogram's)"
            raise MetricsError(msg)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
