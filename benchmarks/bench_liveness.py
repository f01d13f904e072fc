"""Liveness: what the phi-accrual detector costs per call, and how fast a hung child is caught.

**(a) Detector cost.** ``otp.PhiAccrualDetector`` with Akka's cluster defaults and a full
window (1,000 intervals), on a clock that is a C-level iterator (``itertools``), so the clock
costs next to nothing and the same for every variant. Timed in blocks of calls (one
``time.perf_counter_ns()`` pair per block); a variant's figure is the median over its blocks
of the time per call. Variants, all in the same process and the same run, taking turns one
block each per round in a rotating order:

* ``bare call``: a call of a Python function that returns ``None`` (the floor of any method);
* ``heartbeat()``: a steady 1 s beat, every one recorded (the window full, so each beat also
  evicts the oldest interval);
* ``otp.heartbeat()`` in a supervised child: the whole path of a beat, with the child found
  through its context variable, its detector on Trio's clock, and the new deadline computed
  for the supervisor's watcher (all variants run inside that child);
* ``phi()``, ``is_available()``, ``unavailable_at()``: queries 0.5 s after the last beat;
* ``naive heartbeat``: the same arithmetic done the obvious way, the raw baseline: a
  ``deque(maxlen=1000)`` of float intervals with running float sums (what Akka does, in
  doubles), recording an interval only while phi is below the threshold, as Akka and otp do;
* ``naive phi()``: Akka's formula on those float sums (``mean``, ``sum_sq / n - mean**2``,
  the logistic CDF with its two branches);
* ``naive phi(), statistics``: ``statistics.fmean`` and ``statistics.pstdev`` over the window
  at every query (O(window); timed in blocks 50 times smaller).

Both naive versions are checked to compute otp's phi (to 1e-6) before anything is timed. The
naive exponent is clamped at 700, since Python's ``math.exp`` raises where Akka's doubles
overflow to infinity (a healthy peer 0.5 s after a beat is at ``y = -35``).

**(b) Hung-child detection.** A child with ``liveness=otp.Heartbeat(interval=I)`` beats
``--beats`` times (default 5), every ``I`` seconds (``trio.sleep(I)``), then hangs. Its
one_for_one supervisor (intensity never runs out) reports the ``hung`` exit and restarts it;
each incarnation is one trial. On Trio's real clock, for each trial:

* ``detect / I``: (the time of the ``ChildExited`` hung event - the time of the last beat) / I;
* ``predicted / I``: the same for the moment a fresh detector with the same parameters, fed
  the same beat times (the ``started()`` beat included), says the child becomes unavailable
  (``unavailable_at()``);
* ``late``: the event time minus that prediction (ms): how long after the exact moment of
  suspicion the supervisor acts;
* ``hang -> ready``: the last beat to the replacement's ``task_status.started()`` (ms, and / I);
  ``detect -> ready`` is the restart part of it (stopping the hung child, starting a new one).

The raw baseline, measured the same way in the same run: a **hand-written watchdog**, a raw
Trio parent that runs the same child in a task of its own with the same detector, sleeps
until ``unavailable_at()`` (again while beats move it on), then cancels the child, waits for
it to end and starts a new one with ``nursery.start``. The real clock is used on purpose: on
Trio's ``MockClock`` every wake-up happens at its exact deadline, so the lateness would be
zero by construction. otp and the baseline take turns in blocks of ``--block`` trials (a fresh
supervisor or parent per block), so a burst of load on the machine hits both.

Usage::

    python benchmarks/bench_liveness.py [--runs 3] [--quick] [--json FILE] [--rounds N]
                                        [--calls N] [--intervals S ...] [--trials N]
                                        [--beats N] [--block N] [--no-gc]
"""

from __future__ import annotations

import functools
import itertools
import math
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import trio
from _common import (
    Figures,
    fmt,
    fmt_ratio,
    format_table,
    gc_policy,
    make_parser,
    median,
    median_of_runs,
    percentile,
    positive_int,
    print_environment,
    ratio,
    run_repeatedly,
    silence_otp,
    write_json,
)

import otp

# --- (a) settings
FULL_ROUNDS = 200
QUICK_ROUNDS = 20
CALLS = 1_000  # calls per timed block
SLOW_DIVISOR = 50  # the O(window) variant runs blocks this many times smaller
WINDOW = 1_000  # Akka's max-sample-size, full
STEP = 1.0  # seconds between beats
QUERY_AFTER = 0.5  # seconds after the last beat, for the queries

# --- (b) settings
FULL_INTERVALS = (0.01, 0.02, 0.05)
QUICK_INTERVALS = (0.02, 0.05)
FULL_TRIAL_SECONDS = 10.0  # trials per interval: about this many seconds of otp trials
QUICK_TRIALS = 6
BEATS = 5
BLOCK = 10

# --- (a) variants
BARE = "bare_call"
HEARTBEAT = "heartbeat"
SUPERVISED = "supervised_heartbeat"
PHI = "phi"
AVAILABLE = "is_available"
UNAVAILABLE_AT = "unavailable_at"
NAIVE_HEARTBEAT = "naive_heartbeat"
NAIVE_PHI = "naive_phi"
STATS_PHI = "naive_phi_statistics"
CALL_VARIANTS = (
    BARE,
    HEARTBEAT,
    SUPERVISED,
    NAIVE_HEARTBEAT,
    PHI,
    NAIVE_PHI,
    STATS_PHI,
    AVAILABLE,
    UNAVAILABLE_AT,
)
CALL_LABELS = {
    BARE: "bare function call",
    HEARTBEAT: "otp heartbeat()",
    SUPERVISED: "otp.heartbeat() in a supervised child",
    NAIVE_HEARTBEAT: "naive heartbeat (deque, float sums)",
    PHI: "otp phi()",
    NAIVE_PHI: "naive phi() (float sums)",
    STATS_PHI: "naive phi() (statistics over window)",
    AVAILABLE: "otp is_available()",
    UNAVAILABLE_AT: "otp unavailable_at()",
}
# Each otp variant's ratio is taken to its naive counterpart (queries to the naive phi).
NAIVE_OF = {
    HEARTBEAT: NAIVE_HEARTBEAT,
    SUPERVISED: NAIVE_HEARTBEAT,
    PHI: NAIVE_PHI,
    AVAILABLE: NAIVE_PHI,
    UNAVAILABLE_AT: NAIVE_PHI,
}

# --- (b) variants
OTP = "otp"
RAW = "raw"
DETECT_VARIANTS = (OTP, RAW)
DETECT_LABELS = {OTP: "otp supervisor", RAW: "raw watchdog"}
# Per-trial measures: name -> (label, unit); "/I" measures are ratios to the interval.
MEASURES = {
    "detect_ratio": "detect / I",
    "predicted_ratio": "predicted / I",
    "late_ms": "late ms",
    "hang_ready_ms": "hang->ready ms",
    "hang_ready_ratio": "hang->ready / I",
    "detect_ready_ms": "detect->ready ms",
}
STATS = ("median", "p99")


# --- (a) the detector's cost ------------------------------------------------------------------


class NaiveDetector:
    """Akka's phi-accrual arithmetic written the obvious way: floats, a deque, running sums."""

    __slots__ = (
        "clock",
        "intervals",
        "last",
        "min_std",
        "pause",
        "sum",
        "sum_sq",
        "threshold",
    )

    def __init__(self, clock: Callable[[], float], *, size: int = WINDOW) -> None:
        self.clock = clock
        self.intervals: deque[float] = deque(maxlen=size)
        self.last: float | None = None
        self.sum = 0.0
        self.sum_sq = 0.0
        self.threshold = 8.0
        self.min_std = 0.1
        self.pause = 3.0
        # Akka's seed for a first estimate of 1 s: intervals of 0.75 s and 1.25 s.
        for seed in (0.75, 1.25):
            self.intervals.append(seed)
            self.sum += seed
            self.sum_sq += seed * seed

    def heartbeat(self) -> None:
        """Record the interval since the last beat, unless the peer is suspected (as Akka)."""
        now = self.clock()
        last = self.last
        self.last = now
        if last is None:
            return
        interval = now - last
        if self.phi_after(interval) >= self.threshold:
            return  # a pause that long would skew the statistics
        intervals = self.intervals
        if len(intervals) == intervals.maxlen:
            oldest = intervals[0]
            self.sum -= oldest
            self.sum_sq -= oldest * oldest
        intervals.append(interval)
        self.sum += interval
        self.sum_sq += interval * interval

    def phi(self) -> float:
        """Akka's phi now, from the running sums."""
        last = self.last
        if last is None:
            return 0.0
        return self.phi_after(self.clock() - last)

    def phi_after(self, elapsed: float) -> float:
        """Akka's phi after ``elapsed`` seconds of silence (mean and variance from the sums)."""
        n = len(self.intervals)
        mean = self.sum / n
        variance = self.sum_sq / n - mean * mean
        std = max(math.sqrt(max(variance, 0.0)), self.min_std)
        return akka_phi(elapsed, mean, std, self.pause)

    def phi_statistics(self) -> float:
        """phi with the mean and deviation recomputed over the whole window (O(window))."""
        last = self.last
        if last is None:
            return 0.0
        elapsed = self.clock() - last
        window = self.intervals
        mean = statistics.fmean(window)
        std = max(statistics.pstdev(window, mean), self.min_std)
        return akka_phi(elapsed, mean, std, self.pause)


def akka_phi(elapsed: float, mean: float, std: float, pause: float) -> float:
    """Akka's two-branch form of -log10(P_later) with its logistic approximation."""
    y = (elapsed - (mean + pause)) / std
    # Clamped: where Akka's doubles give inf, Python's exp raises OverflowError.
    e = math.exp(min(-y * (1.5976 + 0.070566 * y * y), 700.0))
    if elapsed > mean:
        return -math.log10(e / (1.0 + e))
    return -math.log10(1.0 - 1.0 / (1.0 + e))


def nothing() -> None:
    """The bare call: the floor of any method call, loop included."""


def beating_clock() -> Callable[[], float]:
    """A clock that moves ``STEP`` seconds at every reading (C-level: itertools.count)."""
    return itertools.count(0.0, STEP).__next__


def querying_clock(after: float = QUERY_AFTER) -> Callable[[], float]:
    """Readings 0, 1, ... for the window's beats, then always ``after`` seconds past the last."""
    beats = [i * STEP for i in range(WINDOW + 1)]
    return itertools.chain(beats, itertools.repeat(beats[-1] + after)).__next__


def fill(beat: Callable[[], None]) -> None:
    """Fill a detector's window with steady beats."""
    for _ in range(WINDOW + 1):
        beat()


def check_naive_agrees() -> None:
    """The naive detectors compute otp's phi (to rounding), or the comparison would be moot."""
    for after in (QUERY_AFTER, 4.0, 4.3, 4.5):
        detector = otp.PhiAccrualDetector(clock=querying_clock(after))
        naive = NaiveDetector(querying_clock(after))
        fill(detector.heartbeat)
        fill(naive.heartbeat)
        expected = detector.phi()
        for value in (naive.phi(), naive.phi_statistics()):
            assert math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9), (after, value)


def make_call_blocks(calls: int) -> dict[str, tuple[Callable[[], object], int]]:
    """Per variant, the callable to time and the number of calls in its block."""
    beats = otp.PhiAccrualDetector(clock=beating_clock())
    naive_beats = NaiveDetector(beating_clock())
    queries = otp.PhiAccrualDetector(clock=querying_clock())
    naive_queries = NaiveDetector(querying_clock())
    for beat in (
        beats.heartbeat,
        naive_beats.heartbeat,
        queries.heartbeat,
        naive_queries.heartbeat,
    ):
        fill(beat)
    assert queries.sample_count == WINDOW
    check_naive_agrees()
    slow_calls = max(1, calls // SLOW_DIVISOR)
    return {
        BARE: (nothing, calls),
        HEARTBEAT: (beats.heartbeat, calls),
        SUPERVISED: (otp.heartbeat, calls),
        NAIVE_HEARTBEAT: (naive_beats.heartbeat, calls),
        PHI: (queries.phi, calls),
        NAIVE_PHI: (naive_queries.phi, calls),
        STATS_PHI: (naive_queries.phi_statistics, slow_calls),
        AVAILABLE: (queries.is_available, calls),
        UNAVAILABLE_AT: (queries.unavailable_at, calls),
    }


def time_block(fn: Callable[[], object], calls: int) -> float:
    """Nanoseconds per call over one block of ``calls`` calls."""
    loop = range(calls)
    began = time.perf_counter_ns()
    for _ in loop:
        fn()
    return (time.perf_counter_ns() - began) / calls


def measure_calls(rounds: int, calls: int, shift: int) -> dict[str, list[float]]:
    """Time every variant, inside a supervised child with a liveness contract.

    So ``otp.heartbeat()`` takes its real path: find the child, feed its detector (on Trio's
    clock), compute the new deadline and compare it with the watcher's. The measurement never
    yields to Trio, so nothing else runs meanwhile.
    """
    samples: dict[str, list[float]] = {}

    async def child(done: trio.Event, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        samples.update(time_variants(rounds, calls, shift))
        done.set()

    async def supervise() -> None:
        done = trio.Event()
        spec = otp.ChildSpec("bench", child, (done,), liveness=otp.Heartbeat(), restart="temporary")
        async with otp.open_supervisor([spec]):
            await done.wait()

    trio.run(supervise)
    return samples


def time_variants(rounds: int, calls: int, shift: int) -> dict[str, list[float]]:
    """Every variant times one block per round, in an order that rotates every round."""
    blocks = make_call_blocks(calls)
    samples: dict[str, list[float]] = {variant: [] for variant in CALL_VARIANTS}
    order = list(CALL_VARIANTS)
    for index in range(rounds):
        rotation = (index + shift) % len(order)
        for variant in order[rotation:] + order[:rotation]:
            fn, count = blocks[variant]
            samples[variant].append(time_block(fn, count))
    return samples


def call_figures(samples: dict[str, list[float]]) -> Figures:
    """ns per call (median and p90 over blocks) and ratios, for one run."""
    figures: Figures = {}
    for variant, values in samples.items():
        figures[f"calls.{variant}.median_ns"] = median(values)
        figures[f"calls.{variant}.p90_ns"] = percentile(values, 0.9)
    for variant, naive in NAIVE_OF.items():
        figures[f"calls.{variant}/{naive}"] = ratio(
            figures[f"calls.{variant}.median_ns"], figures[f"calls.{naive}.median_ns"]
        )
    figures[f"calls.{STATS_PHI}/{PHI}"] = ratio(
        figures[f"calls.{STATS_PHI}.median_ns"], figures[f"calls.{PHI}.median_ns"]
    )
    return figures


# --- (b) hung-child detection -----------------------------------------------------------------


class Trial:
    """One incarnation's beats, when its hang was acted on, and when its replacement was ready."""

    __slots__ = ("acted", "beats", "ready")

    def __init__(self, first_beat: float) -> None:
        self.beats = [first_beat]
        self.acted: float | None = None
        self.ready: float | None = None


class Probe:
    """One variant's trials at one interval, shared by every incarnation of its child."""

    def __init__(self, variant: str, interval: float, beats: int) -> None:
        self.variant = variant
        self.interval = interval
        self.beats = beats
        self.heartbeat = otp.Heartbeat(interval=interval)
        self.trials: list[Trial] = []
        self.current: Trial | None = None
        self.wanted = 0  # trials still to run in this block
        self.block_done = trio.Event()

    def start_block(self, trials: int) -> None:
        """Allow ``trials`` more trials; ``block_done`` is set when the last one is replaced."""
        self.wanted = trials
        self.block_done = trio.Event()
        self.current = None

    def incarnation_ready(self, now: float) -> bool:
        """A new incarnation is ready at ``now``; False if the block is over (do not beat)."""
        previous = self.current
        if previous is not None:
            previous.ready = now
            self.trials.append(previous)
            self.current = None
            if self.wanted == 0:
                self.block_done.set()
        if self.wanted == 0:
            return False
        self.wanted -= 1
        self.current = Trial(now)
        return True

    def beat(self, now: float) -> None:
        """Record a beat of the current incarnation."""
        assert self.current is not None
        self.current.beats.append(now)

    def acted_on_hang(self, now: float) -> None:
        """The supervisor (or watchdog) declared the current incarnation hung at ``now``."""
        assert self.current is not None, "a hang was declared outside a trial"
        assert self.current.acted is None, "a trial was declared hung twice"
        self.current.acted = now

    def on_event(self, event: otp.SupervisorEvent) -> None:
        """The otp supervisor's hook: note the hung exits."""
        if isinstance(event, otp.ChildExited):
            assert event.reason.kind is otp.ExitKind.HUNG, event  # nothing else may end it
            self.acted_on_hang(event.time)


async def beat_then_hang(probe: Probe, beat: Callable[[], None]) -> None:
    """Beat ``probe.beats`` times, every ``probe.interval`` seconds, then hang."""
    for _ in range(probe.beats):
        await trio.sleep(probe.interval)
        beat()
        probe.beat(trio.current_time())
    await trio.sleep_forever()


async def otp_child(probe: Probe, *, task_status: trio.TaskStatus[None]) -> None:
    """The supervised child: ``started()`` is its first beat, ``otp.heartbeat()`` the rest."""
    go = probe.incarnation_ready(trio.current_time())
    task_status.started()
    if go:
        await beat_then_hang(probe, otp.heartbeat)
    else:
        await trio.sleep_forever()  # the block is over: its supervisor stops it at once


async def otp_block(probe: Probe, trials: int) -> None:
    """``trials`` trials under a fresh one_for_one supervisor."""
    probe.start_block(trials)
    spec = otp.ChildSpec("child", otp_child, (probe,), liveness=probe.heartbeat)
    async with trio.open_nursery() as nursery:
        sup: otp.Supervisor = await nursery.start(
            functools.partial(
                otp.supervisor, [spec], intensity=10**9, period=1.0, hooks=[probe.on_event]
            )
        )
        await probe.block_done.wait()
        await sup.stop()


async def raw_child(
    probe: Probe,
    detector: otp.PhiAccrualDetector,
    ended: trio.Event,
    *,
    task_status: trio.TaskStatus[trio.CancelScope],
) -> None:
    """The watchdog's child: the same beats, fed straight into its detector."""
    try:
        with trio.CancelScope() as scope:
            go = probe.incarnation_ready(trio.current_time())
            detector.heartbeat()  # being ready is the first sign of life, as under otp
            task_status.started(scope)
            if go:
                await beat_then_hang(probe, detector.heartbeat)
            else:
                await trio.sleep_forever()
    finally:
        ended.set()


async def raw_block(probe: Probe, trials: int) -> None:
    """``trials`` trials under a hand-written watchdog: detect, cancel, wait, start anew."""
    probe.start_block(trials)
    async with trio.open_nursery() as nursery:
        while True:
            detector = probe.heartbeat.detector(trio.current_time)
            ended = trio.Event()
            scope: trio.CancelScope = await nursery.start(raw_child, probe, detector, ended)
            if probe.block_done.is_set():
                scope.cancel()
                return
            # Beats move the deadline on without waking the watchdog, as in otp's watcher.
            while detector.is_available():  # noqa: ASYNC110
                await trio.sleep_until(detector.unavailable_at())
            probe.acted_on_hang(trio.current_time())
            scope.cancel()
            await ended.wait()


BLOCK_RUNNERS = {OTP: otp_block, RAW: raw_block}


async def conduct_detection(
    intervals: Sequence[float], trials: Sequence[int], beats: int, block: int, shift: int
) -> list[Probe]:
    """For each interval, otp and the watchdog take turns in blocks of ``block`` trials."""
    probes: list[Probe] = []
    for interval, wanted in zip(intervals, trials, strict=True):
        pair = [Probe(variant, interval, beats) for variant in DETECT_VARIANTS]
        turn = shift
        while any(len(probe.trials) < wanted for probe in pair):
            for probe in pair[turn % 2 :] + pair[: turn % 2]:
                count = min(block, wanted - len(probe.trials))
                if count > 0:
                    await BLOCK_RUNNERS[probe.variant](probe, count)
            turn += 1
        probes.extend(pair)
    return probes


def predicted_at(heartbeat: otp.Heartbeat, beats: Sequence[float]) -> float:
    """When a fresh detector fed these beat times says the child becomes unavailable."""
    times: Iterator[float] = iter(beats)
    twin = heartbeat.detector(clock=lambda: next(times))
    for _ in beats:
        twin.heartbeat()
    return twin.unavailable_at()


def premature(probe: Probe, trial: Trial) -> bool:
    """Whether the child was declared hung before it stopped beating (a false positive).

    Only a stall of the whole process longer than the tolerance (about 4.5 intervals) can
    cause one; such trials are counted, and left out of the other figures.
    """
    return len(trial.beats) < probe.beats + 1


def trial_measures(probe: Probe, trial: Trial) -> dict[str, float]:
    """The per-trial measures (see MEASURES) of one completed trial."""
    assert trial.acted is not None
    assert trial.ready is not None
    interval = probe.interval
    last = trial.beats[-1]
    predicted = predicted_at(probe.heartbeat, trial.beats)
    return {
        "detect_ratio": (trial.acted - last) / interval,
        "predicted_ratio": (predicted - last) / interval,
        "late_ms": (trial.acted - predicted) * 1e3,
        "hang_ready_ms": (trial.ready - last) * 1e3,
        "hang_ready_ratio": (trial.ready - last) / interval,
        "detect_ready_ms": (trial.ready - trial.acted) * 1e3,
    }


def interval_key(interval: float) -> str:
    """A figure-name part for an interval: ``20ms``."""
    return f"{interval * 1e3:g}ms"


def detection_figures(probes: Sequence[Probe]) -> Figures:
    """Median and p99 of every measure, per variant and interval, for one run."""
    figures: Figures = {}
    for probe in probes:
        rows = [
            trial_measures(probe, trial) for trial in probe.trials if not premature(probe, trial)
        ]
        prefix = f"detect.{interval_key(probe.interval)}.{probe.variant}"
        for measure in MEASURES:
            values = [row[measure] for row in rows]
            figures[f"{prefix}.{measure}.median"] = median(values) if values else math.nan
            figures[f"{prefix}.{measure}.p99"] = percentile(values, 0.99) if values else math.nan
        figures[f"{prefix}.trials"] = float(len(rows))
        figures[f"{prefix}.premature"] = float(len(probe.trials) - len(rows))
    for interval in {probe.interval for probe in probes}:
        key = interval_key(interval)
        for measure in ("late_ms", "hang_ready_ms", "detect_ready_ms"):
            for stat in STATS:
                figures[f"detect.{key}.otp/raw.{measure}.{stat}"] = ratio(
                    figures[f"detect.{key}.{OTP}.{measure}.{stat}"],
                    figures[f"detect.{key}.{RAW}.{measure}.{stat}"],
                )
    return figures


# --- one run ----------------------------------------------------------------------------------


def one_run(
    index: int,
    *,
    rounds: int,
    calls: int,
    intervals: Sequence[float],
    trials: Sequence[int],
    beats: int,
    block: int,
    no_gc: bool,
) -> Figures:
    """Part (a), then part (b); the order of turns starts elsewhere each run."""
    with gc_policy(disabled=no_gc):
        figures = call_figures(measure_calls(rounds, calls, index))
    with gc_policy(disabled=no_gc):
        probes = trio.run(conduct_detection, intervals, trials, beats, block, index)
    figures.update(detection_figures(probes))
    return figures


def trials_for(interval: float, beats: int) -> int:
    """Trials per interval in a full run: about FULL_TRIAL_SECONDS of otp trials, 30 to 100."""
    seconds_per_trial = (beats + 5) * interval  # the beats, then about 4.7 I to detect
    return max(30, min(100, round(FULL_TRIAL_SECONDS / seconds_per_trial)))


# --- report -----------------------------------------------------------------------------------


def report_calls(medians: Figures, rounds: int, calls: int, runs: int) -> str:
    """Table (a): ns per call, and each otp call's ratio to its naive counterpart."""
    headers = [
        f"call (median of {runs} runs)",
        "ns/call",
        "p90 block ns/call",
        "ratio",
        "to",
    ]
    rows = []
    for variant in CALL_VARIANTS:
        naive = NAIVE_OF.get(variant)
        rows.append(
            [
                CALL_LABELS[variant],
                fmt(medians[f"calls.{variant}.median_ns"]),
                fmt(medians[f"calls.{variant}.p90_ns"]),
                "" if naive is None else fmt_ratio(medians[f"calls.{variant}/{naive}"]),
                "" if naive is None else CALL_LABELS[naive],
            ]
        )
    return "\n".join(
        [
            (
                f"(a) Detector cost: window of {WINDOW:,} intervals, {rounds:,} rounds of one "
                f"{calls:,}-call block per variant ({max(1, calls // SLOW_DIVISOR)} for the "
                "statistics one), variants interleaved"
            ),
            format_table(headers, rows),
            (
                "naive phi() (statistics over window) / otp phi(): "
                f"{fmt(medians[f'calls.{STATS_PHI}/{PHI}'], 0)}x. "
                "Ratios are the median of per-run ratios."
            ),
        ]
    )


DETECTION_MEASURES = ("detect_ratio", "predicted_ratio", "late_ms")
RESTART_MEASURES = ("hang_ready_ms", "hang_ready_ratio", "detect_ready_ms")
COMPARED = ("late_ms", "hang_ready_ms", "detect_ready_ms")  # otp / raw ratios are reported


def detection_table(
    medians: Figures, intervals: Sequence[float], measures: Sequence[str], runs: int
) -> str:
    """One table: median and p99 of ``measures`` per interval and variant, and otp / raw."""
    headers = [f"interval, variant (median of {runs} runs)"]
    for measure in measures:
        headers += [f"{MEASURES[measure]} med", "p99"]
    rows = []
    for interval in intervals:
        key = interval_key(interval)
        for variant in DETECT_VARIANTS:
            prefix = f"detect.{key}.{variant}"
            cells = [f"I={key} {DETECT_LABELS[variant]}"]
            for measure in measures:
                digits = 3 if measure.endswith("ms") else 2
                cells += [fmt(medians[f"{prefix}.{measure}.{stat}"], digits) for stat in STATS]
            rows.append(cells)
        cells = [f"I={key} otp / raw watchdog"]
        for measure in measures:
            if measure in COMPARED:
                cells += [
                    fmt_ratio(medians[f"detect.{key}.otp/raw.{measure}.{stat}"]) for stat in STATS
                ]
            else:
                cells += ["", ""]
        rows.append(cells)
    return format_table(headers, rows)


def report_detection(
    medians: Figures, intervals: Sequence[float], beats: int, block: int, runs: int
) -> str:
    """Tables (b): detection, then replacement, per interval and variant."""
    counts = ", ".join(
        f"I={interval_key(interval)}: "
        + " / ".join(
            f"{fmt(medians[f'detect.{interval_key(interval)}.{variant}.trials'], 0)}"
            f" (+{fmt(medians[f'detect.{interval_key(interval)}.{variant}.premature'], 0)} early)"
            for variant in DETECT_VARIANTS
        )
        for interval in intervals
    )
    return "\n".join(
        [
            (
                f"(b) Hung-child detection, real clock: {beats} beats every I, then a hang; "
                f"otp and the watchdog alternate in blocks of {block} trials"
            ),
            f"trials otp / watchdog per run: {counts}",
            detection_table(medians, intervals, DETECTION_MEASURES, runs),
            "",
            detection_table(medians, intervals, RESTART_MEASURES, runs),
            (
                "detect: hung event - last beat; predicted: a twin detector's unavailable_at() "
                "- last beat; late = detect - predicted; hang->ready: last beat to the "
                "replacement's started(); detect->ready: the restart part of it; early: trials "
                "declared hung while still beating (left out of the figures)."
            ),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the tables and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument(
        "--rounds",
        type=positive_int,
        help=f"(a) blocks per variant per run (default {FULL_ROUNDS}; {QUICK_ROUNDS} with --quick)",
    )
    parser.add_argument(
        "--calls",
        type=positive_int,
        default=CALLS,
        help=f"(a) calls per timed block (default {CALLS:,})",
    )
    parser.add_argument(
        "--intervals",
        type=float,
        nargs="+",
        metavar="S",
        help=(
            "(b) heartbeat intervals in seconds (default "
            f"{' '.join(f'{i:g}' for i in FULL_INTERVALS)}; "
            f"{' '.join(f'{i:g}' for i in QUICK_INTERVALS)} with --quick)"
        ),
    )
    parser.add_argument(
        "--trials",
        type=positive_int,
        help=(
            "(b) trials per interval and variant (default: about "
            f"{FULL_TRIAL_SECONDS:g} s of trials per interval, 30 to 100; "
            f"{QUICK_TRIALS} with --quick)"
        ),
    )
    parser.add_argument(
        "--beats",
        type=positive_int,
        default=BEATS,
        help=f"(b) steady beats before each hang (default {BEATS})",
    )
    parser.add_argument(
        "--block",
        type=positive_int,
        default=BLOCK,
        help=f"(b) trials per turn when otp and the watchdog take turns (default {BLOCK})",
    )
    args = parser.parse_args(argv)
    rounds: int = args.rounds or (QUICK_ROUNDS if args.quick else FULL_ROUNDS)
    intervals: list[float] = args.intervals or list(
        QUICK_INTERVALS if args.quick else FULL_INTERVALS
    )
    if any(not (0 < interval < math.inf) for interval in intervals):
        parser.error("--intervals must be positive numbers of seconds")
    trials = [
        args.trials or (QUICK_TRIALS if args.quick else trials_for(interval, args.beats))
        for interval in intervals
    ]
    silence_otp()
    # One untimed pass first, so the first run does not pay for the cold start.
    measure_calls(max(1, rounds // 10), args.calls, 0)
    trio.run(conduct_detection, intervals[:1], [min(2, trials[0])], args.beats, args.block, 0)
    runs = run_repeatedly(
        args.runs,
        functools.partial(
            one_run,
            rounds=rounds,
            calls=args.calls,
            intervals=intervals,
            trials=trials,
            beats=args.beats,
            block=args.block,
            no_gc=args.no_gc,
        ),
    )
    medians = median_of_runs(runs)
    print_environment()
    print(report_calls(medians, rounds, args.calls, args.runs))
    print()
    print(report_detection(medians, intervals, args.beats, args.block, args.runs))
    if args.json is not None:
        config: dict[str, Any] = {
            "rounds": rounds,
            "calls": args.calls,
            "window": WINDOW,
            "intervals": intervals,
            "trials": trials,
            "beats": args.beats,
            "block": args.block,
            "runs": args.runs,
            "quick": args.quick,
            "gc_disabled": args.no_gc,
            "clock": "(a) itertools iterators; (b) trio default (real)",
        }
        write_json(args.json, benchmark="liveness", config=config, runs=runs, medians=medians)
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
