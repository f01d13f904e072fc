"""otp.metrics: instruments, the tree's own metrics, call observers and the exporters."""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import pytest
import trio

import otp
import otp.metrics
from otp.metrics import Metrics, MetricsError, TreeMetrics

from .harness import Harness

# --- instruments ------------------------------------------------------------------------------


def test_counters_gauges_and_histograms_render_as_prometheus_text() -> None:
    metrics = Metrics()
    jobs = metrics.counter("jobs_total", "Jobs done.", ["queue"])
    jobs.inc(("fast",))
    jobs.inc(("fast",), 2)
    depth = metrics.gauge("depth", "Queue depth.")
    depth.set(4)
    depth.add(-1.5)
    latency = metrics.histogram("latency_seconds", 'Round "trips".', [], buckets=[0.1, 1])
    for value in (0.05, 0.1, 0.5, 7):
        latency.observe(value)
    assert metrics.render_prometheus() == "\n".join(
        [
            "# HELP jobs_total Jobs done.",
            "# TYPE jobs_total counter",
            'jobs_total{queue="fast"} 3',
            "# HELP depth Queue depth.",
            "# TYPE depth gauge",
            "depth 2.5",
            '# HELP latency_seconds Round "trips".',
            "# TYPE latency_seconds histogram",
            'latency_seconds_bucket{le="0.1"} 2',
            'latency_seconds_bucket{le="1"} 3',
            'latency_seconds_bucket{le="+Inf"} 4',
            "latency_seconds_sum 7.65",
            "latency_seconds_count 4",
            "",
        ]
    )
    assert metrics.value("jobs_total", queue="fast") == 3
    assert metrics.value("jobs_total", queue="slow") == 0
    assert metrics.counter("jobs_total", "again", ["queue"]) is jobs  # found by name


def test_label_values_are_escaped_and_the_text_parses() -> None:
    prometheus_client = pytest.importorskip("prometheus_client.parser")
    metrics = Metrics()
    metrics.counter("odd_total", "Odd labels.", ["value"]).inc(('a "quoted"\\back\nslash',))
    families = list(prometheus_client.text_string_to_metric_families(metrics.render_prometheus()))
    [sample] = families[0].samples
    assert sample.labels == {"value": 'a "quoted"\\back\nslash'}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda m: m.counter("bad name", "h"), "a metric name must match"),
        (lambda m: m.counter("ok", "h", ["le"]), "bad label name 'le'"),
        (lambda m: m.counter("ok", "h", ["1x"]), "bad label name '1x'"),
        (lambda m: m.counter("ok", "h", "queue"), "labels must be a list of label names"),
        (lambda m: m.histogram("h", "h", buckets=[1, 0.5]), "buckets must be finite, increasing"),
        (lambda m: m.histogram("h", "h", buckets=[math.inf]), "buckets must be finite"),
    ],
)
def test_bad_declarations_name_the_problem(make: Any, message: str) -> None:
    with pytest.raises(MetricsError, match=re.escape(message)):
        make(Metrics())


def test_misuse_is_refused() -> None:
    metrics = Metrics()
    counter = metrics.counter("c_total", "c", ["a"])
    with pytest.raises(MetricsError, match=r"takes labels \('a',\) \(got 2 values"):
        counter.inc(("x", "y"))
    with pytest.raises(MetricsError, match="only goes up"):
        counter.inc(("x",), -1)
    with pytest.raises(MetricsError, match="is already a counter with labels"):
        metrics.gauge("c_total", "c", ["a"])
    with pytest.raises(MetricsError, match=r"already a counter with labels \('a',\)"):
        metrics.counter("c_total", "c", ["b"])
    assert metrics.value("c_total", a="x") == 0


# --- the tree's metrics -----------------------------------------------------------------------


async def test_restarts_exits_give_ups_and_running_children_are_counted() -> None:
    tree_metrics = TreeMetrics()
    metrics = tree_metrics.metrics
    harness = Harness()
    inner = otp.supervisor_spec("workers", [harness.spec("w1")], intensity=1, period=10)
    async with otp.open_supervisor(
        [harness.spec("db"), inner], name="root", hooks=[tree_metrics.hook]
    ):
        assert metrics.value("otp_children_running", supervisor="root") == 2
        assert metrics.value("otp_children_running", supervisor="root/workers") == 1
        harness.crash("w1")
        await trio.testing.wait_all_tasks_blocked()
        labels = {"supervisor": "root/workers", "child": "w1"}
        assert metrics.value("otp_child_restarts_total", **labels) == 1
        assert metrics.value("otp_child_exits_total", **labels, reason="abnormal") == 1
        harness.crash("w1")  # the second within the period: the nested supervisor gives up
        await trio.testing.wait_all_tasks_blocked()
        assert metrics.value("otp_supervisor_give_ups_total", supervisor="root/workers") == 1
        assert metrics.value("otp_child_restarts_total", supervisor="root", child="workers") == 1
    assert metrics.value("otp_children_running", supervisor="root") == 0
    assert metrics.value("otp_children_running", supervisor="root/workers") == 0


async def test_a_group_restart_counts_the_child_that_caused_it() -> None:
    # As restart intensity counts: the siblings one_for_all stops and starts again did not
    # fail, so only the crashed child's restart is counted.
    tree_metrics = TreeMetrics()
    metrics = tree_metrics.metrics
    harness = Harness()
    async with otp.open_supervisor(
        [harness.spec("a"), harness.spec("b")],
        name="root",
        strategy="one_for_all",
        hooks=[tree_metrics.hook],
    ):
        harness.crash("a")
        await trio.testing.wait_all_tasks_blocked()
        assert harness.starts["b"] == 2
        assert metrics.value("otp_child_restarts_total", supervisor="root", child="a") == 1
        assert metrics.value("otp_child_restarts_total", supervisor="root", child="b") == 0
        assert metrics.value("otp_children_running", supervisor="root") == 2


async def test_running_children_are_read_when_collected() -> None:
    tree_metrics = TreeMetrics()
    metrics = tree_metrics.metrics
    harness = Harness()
    async with otp.open_supervisor(
        [harness.spec("a"), harness.spec("b", restart="temporary")],
        name="root",
        hooks=[tree_metrics.hook],
    ) as sup:
        assert metrics.value("otp_children_running", supervisor="root") == 2
        await sup.terminate_child("b")
        assert metrics.value("otp_children_running", supervisor="root") == 1
        assert 'otp_children_running{supervisor="root"} 1' in metrics.render_prometheus()
    # A stopped supervisor's gauge goes away rather than reporting a stale count.
    assert "otp_children_running{" not in metrics.render_prometheus()


class Echo(otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        if request == "slow":
            await trio.sleep(10)
        if request == "crash":
            raise ValueError("boom")
        return request


async def test_calls_are_counted_by_outcome_and_timed() -> None:
    tree_metrics = TreeMetrics()
    metrics = tree_metrics.metrics
    spec = Echo.child_spec(id="echo", name="echo")
    with otp.observe_calls(tree_metrics.on_call):
        async with otp.open_supervisor([spec], name="root", hooks=[tree_metrics.hook]):
            ref = otp.named("echo")
            for n in range(3):
                assert await ref.call(n) == n
            with pytest.raises(otp.CallTimeout):
                await ref.call("slow", timeout=1)
            with pytest.raises(otp.ServerExited):
                await ref.call("crash")
            await trio.testing.wait_all_tasks_blocked()  # restarted: the observer goes on
            assert await ref.call("again") == "again"
    server = "'echo' (Echo)"
    assert metrics.value("otp_calls_total", server=server, outcome="ok") == 4
    assert metrics.value("otp_calls_total", server=server, outcome="timeout") == 1
    assert metrics.value("otp_calls_total", server=server, outcome="exited") == 1
    assert metrics.value("otp_call_seconds_count", server=server) == 6
    assert metrics.value("otp_call_seconds_bucket", server=server, le="+Inf") == 6


async def test_mailbox_depth_is_read_at_collection_and_dropped_with_the_server() -> None:
    tree_metrics = TreeMetrics()
    metrics = tree_metrics.metrics
    with otp.observe_calls(tree_metrics.on_call):
        async with trio.open_nursery() as nursery:
            ref = await nursery.start(Echo.start)
            await ref.call(1)
            nursery.start_soon(functools.partial(ref.call, "slow", timeout=None))
            await trio.testing.wait_all_tasks_blocked()
            for n in range(5):
                ref.send(n)  # queued behind the slow call
            metrics.collect()
            assert metrics.value("otp_mailbox_depth", server="Echo") == 5
            nursery.cancel_scope.cancel()
    metrics.collect()
    assert "otp_mailbox_depth{" not in metrics.render_prometheus()


async def test_servers_started_outside_observe_calls_are_not_observed() -> None:
    seen: list[object] = []
    async with trio.open_nursery() as nursery:
        outside = await nursery.start(Echo.start)
        with otp.observe_calls(lambda ref, request, error, seconds: seen.append(request)):
            inside = await nursery.start(Echo.start)
        await outside.call("a")
        await inside.call("b")
        nursery.cancel_scope.cancel()
    assert seen == ["b"]


async def test_observers_nest_and_a_failing_one_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    order: list[str] = []

    def broken(*_: object) -> None:
        order.append("broken")
        raise RuntimeError("observer bug")

    with otp.observe_calls(broken), otp.observe_calls(lambda *_: order.append("inner")):
        async with trio.open_nursery() as nursery:
            ref = await nursery.start(Echo.start)
            assert await ref.call("x") == "x"  # the call is unaffected
            nursery.cancel_scope.cancel()
    assert order == ["broken", "inner"]
    assert any("call observer" in r.getMessage() for r in caplog.records)
    refused = pytest.raises(otp.ChildSpecError, match="observer must be a callable")
    with refused, otp.observe_calls("nope"):  # type: ignore[arg-type]
        pass  # pragma: no cover


async def test_breaker_metrics() -> None:
    tree_metrics = TreeMetrics()
    metrics = tree_metrics.metrics
    breaker = otp.CircuitBreaker(
        "db", otp.BreakerConfig(failure_threshold=1), hooks=[tree_metrics.hook]
    )

    async def fail() -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    with pytest.raises(otp.CircuitOpen):
        await breaker.call(fail)
    assert metrics.value("otp_breaker_state", breaker="db") == 2
    assert metrics.value("otp_breaker_calls_total", breaker="db", outcome="failure") == 1
    assert metrics.value("otp_breaker_rejections_total", breaker="db") == 1


def test_phi_is_read_at_collection() -> None:
    now = [0.0]
    detector = otp.PhiAccrualDetector(clock=lambda: now[0])
    for _ in range(5):
        detector.heartbeat()
        now[0] += 1.0
    tree_metrics = TreeMetrics()
    tree_metrics.watch_detector("root/db", detector)
    now[0] += 10
    tree_metrics.metrics.collect()
    assert tree_metrics.metrics.value("otp_liveness_phi", path="root/db") == detector.phi() > 1


def test_call_outcome_labels() -> None:
    assert otp.metrics.call_outcome(None) == "ok"
    assert otp.metrics.call_outcome(otp.NoProc("x")) == "noproc"
    assert otp.metrics.call_outcome(otp.MailboxFull("x")) == "mailbox_full"
    assert otp.metrics.call_outcome(KeyError("x")) == "error"


# --- exporters --------------------------------------------------------------------------------


def test_prometheus_client_sees_every_metric() -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    metrics = Metrics()
    metrics.counter("otp_restarts_total", "Restarts.", ["child"]).inc(("db",))
    metrics.gauge("otp_running", "Running.").set(2)
    metrics.histogram("otp_call_seconds", "Calls.", buckets=[0.1]).observe(0.05)
    registry = prometheus_client.CollectorRegistry()
    otp.metrics.prometheus_collector(metrics, registry=registry)
    text = prometheus_client.generate_latest(registry).decode()
    assert 'otp_restarts_total{child="db"} 1.0' in text
    assert "otp_running 2.0" in text
    assert 'otp_call_seconds_bucket{le="0.1"} 1.0' in text
    assert "otp_call_seconds_sum 0.05" in text


def test_opentelemetry_meters_read_the_registry() -> None:
    sdk = pytest.importorskip("opentelemetry.sdk.metrics")
    export = pytest.importorskip("opentelemetry.sdk.metrics.export")
    MeterProvider, InMemoryMetricReader = sdk.MeterProvider, export.InMemoryMetricReader  # noqa: N806

    metrics = Metrics()
    restarts = metrics.counter("otp_restarts_total", "Restarts.", ["child"])
    metrics.gauge("otp_running", "Running.").set(2)
    latency = metrics.histogram("otp_call_seconds", "Calls.")
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    instruments = otp.metrics.instrument_otel(metrics, meter)
    assert len(instruments) == 4
    restarts.inc(("db",), 3)
    latency.observe(0.5)
    latency.observe(1.5)
    data = reader.get_metrics_data()
    points = {
        metric.name: [(dict(p.attributes), p.value) for p in metric.data.data_points]
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert points["otp_restarts_total"] == [({"child": "db"}, 3.0)]
    assert points["otp_running"] == [({}, 2.0)]
    assert points["otp_call_seconds_count"] == [({}, 2.0)]
    assert points["otp_call_seconds_sum"] == [({}, 2.0)]


def test_the_metrics_endpoint_over_a_real_socket() -> None:
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("hypercorn")
    metrics = Metrics()
    metrics.counter("otp_restarts_total", "Restarts.").inc()

    async def main() -> None:
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
                url = await nursery.start(functools.partial(otp.metrics.serve_metrics, metrics))
                response = await client.get(url)
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
                assert "otp_restarts_total 1" in response.text
                assert (await client.get(url.replace("/metrics", "/other"))).status_code == 404
                assert (await client.post(url)).status_code == 405
                head = await client.head(url)
                assert head.status_code == 200
                assert head.content == b""
                nursery.cancel_scope.cancel()

    trio.run(main)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"host": ""}, "host must be a non-empty string"), ({"port": 70000}, "port must be an int")],
)
async def test_serve_metrics_rejects_a_bad_address(options: dict[str, Any], message: str) -> None:
    with pytest.raises(MetricsError, match=message):
        await otp.metrics.serve_metrics(Metrics(), **options)
