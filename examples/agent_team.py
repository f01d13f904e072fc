"""An agent team under fault injection: every accepted job is accounted for.

The tree, under one root supervisor:

* ``models``, an ``otp.pool`` of two "model clients" the summarize tool borrows (a pool that
  runs dry under load is one of the failures the jobs ride out);
* ``agents``, an ``otp.tools.AgentTeam`` of researchers and writers, each agent a server
  that calls tools through the bus with its role's permissions: writers may only call
  ``research`` (a router in front of the researchers), researchers ``search`` and
  ``summarize``;
* ``jobs``, an ``otp.tasks.Executor``: each job asks a writer (through a router) for an
  article, with a timeout and retries;
* ``articles``, an ``otp.streams`` pipeline storing finished articles, whose sink crashes on
  its fifth article (once).

A seeded ``otp.testing`` fault plan crashes, hangs and slows the agents while a client
submits jobs without waiting (a full queue rejects a job, and the client records it). At
the end every accepted job has succeeded or failed with its reason, every rejected one is
reported, and the figures are printed::

    python -m examples.agent_team [--seed 7] [--jobs 100] [--virtual-time] [--log]
"""

from __future__ import annotations

import argparse
import collections
import functools
import logging
import sys
from collections.abc import Sequence
from typing import Any

import attrs
import trio
import trio.testing

import otp
import otp.pool
import otp.routing
import otp.streams
import otp.tasks
import otp.testing
import otp.tools

SUBMIT_EVERY = 0.03  # seconds between two jobs: faster than the team, so the queue fills
BEAT = otp.Heartbeat(interval=0.5)  # an agent stuck in a handler is restarted as hung


# --- tools ------------------------------------------------------------------------------------


async def search(query: str) -> list[str]:
    """The search tool: three facts about ``query``."""
    await trio.sleep(0.02)
    return [f"{query}: fact {n}" for n in range(1, 4)]


class ModelClient:
    """A stand-in for a connection to a language model."""

    def __init__(self) -> None:
        self.calls = 0


async def connect_model() -> ModelClient:
    """The pool's factory."""
    await trio.sleep(0.01)
    return ModelClient()


def summarize_tool(models: otp.pool.Pool[ModelClient]) -> Any:  # noqa: ANN401
    """The summarize tool, which borrows a model client from ``models``."""

    async def summarize(text: str, words: int = 8) -> str:
        async with models.acquire() as client:
            client.calls += 1
            await trio.sleep(0.08)
            return " ".join(text.split()[:words])

    return summarize


def research_tool(researchers: otp.routing.Router) -> Any:  # noqa: ANN401
    """The research tool: a call to whichever researcher the router picks."""

    async def research(topic: str) -> str:
        reply: str = await researchers.call({"topic": topic}, timeout=None)  # the bus times it
        return reply

    return research


TOPIC = {"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]}
QUERY = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
TEXT = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "words": {"type": "integer", "minimum": 1}},
    "required": ["text"],
    "additionalProperties": False,
}


# --- agents -----------------------------------------------------------------------------------


class Researcher(otp.GenServer[dict[str, str], str]):
    """Answers ``{"topic": ...}`` with a summary of what search found.

    Without a summary (the models are all busy), it answers with the facts as they are.
    """

    async def init(self, context: otp.tools.AgentContext) -> None:
        self.context = context
        otp.routing.join("researchers", self.ref)

    async def handle_call(self, request: dict[str, str], caller: otp.Caller[str]) -> str:
        facts: list[str] = await self.context.call_tool("search", {"query": request["topic"]})
        try:
            summary: str = await self.context.call_tool("summarize", {"text": " ".join(facts)})
        except otp.tools.ToolCallError:
            return facts[0]
        return summary


class NoArticle(Exception):
    """A writer could not get its notes; the job tries again."""


class Writer(otp.GenServer[str, tuple[bool, str]]):
    """Writes an article on a topic from a researcher's notes.

    It answers ``(True, article)``, or ``(False, why)`` when the research tool failed: a
    tool's failure is the job's to retry, not a reason for the writer to crash.
    """

    async def init(self, context: otp.tools.AgentContext) -> None:
        self.context = context
        otp.routing.join("writers", self.ref)

    async def handle_call(
        self, topic: str, caller: otp.Caller[tuple[bool, str]]
    ) -> tuple[bool, str]:
        try:
            notes = await self.context.call_tool("research", {"topic": topic})
        except otp.tools.ToolCallError as error:
            return False, f"{type(error).__name__} from {error.tool!r}"
        return True, f"{topic} by {self.context.name}, from [{notes}]"


# --- the run ----------------------------------------------------------------------------------


@attrs.define
class Summary:
    """What a run did; ``lost`` must be 0."""

    submitted: int = 0
    accepted: int = 0
    rejected: list[str] = attrs.Factory(list)
    succeeded: int = 0
    failed: dict[str, str] = attrs.Factory(dict)
    stored: int = 0
    sink_crashes: int = 0
    faults: collections.Counter[str] = attrs.Factory(collections.Counter)
    probes: list[str] = attrs.Factory(list)
    tools: dict[str, otp.tools.ToolStatistics] = attrs.Factory(dict)
    pool_exhausted: int = 0

    @property
    def lost(self) -> int:
        return self.accepted - self.succeeded - len(self.failed)


async def probe(bus: otp.tools.ToolBus, summary: Summary) -> None:
    """Bad input: a forbidden tool, wrong parameters, an unknown tool; each a clear error."""
    attempts = [
        ("writer-1", "search", {"query": "x"}),
        ("researcher-1", "summarize", {"text": "a b c", "words": "many"}),
        ("researcher-1", "translate", {"text": "hola"}),
    ]
    for agent, tool, arguments in attempts:
        try:
            await bus.call(agent, tool, arguments)
        except otp.tools.ToolCallError as error:
            summary.probes.append(f"{type(error).__name__}: {error}")


async def run(seed: int, jobs: int) -> Summary:
    """One run of the team under a fault plan of ``seed``; returns its figures."""
    summary = Summary()
    duration = jobs * SUBMIT_EVERY
    plan = otp.testing.FaultPlan.random(
        ["researcher/researcher", "writer/writer"],
        seed=seed,
        duration=duration,
        rates={"crash": 1.0, "hang": 0.3, "slow": 0.6},
        delay=0.4,
        slow_for=1.0,
    )
    injector = otp.testing.FaultInjector(plan)

    models: otp.pool.Pool[ModelClient] = otp.pool.Pool(
        "models", connect_model, min_size=1, max_size=2, acquire_timeout=0.05
    )
    researchers = otp.routing.Router("researchers", name="researchers")
    writers = otp.routing.Router("writers", name="writers")
    bus = otp.tools.ToolBus()
    bus.register("search", search, description="Search the notes.", parameters=QUERY, timeout=1)
    bus.register(
        "summarize", summarize_tool(models), description="Summarize text.", parameters=TEXT
    )
    bus.register(
        "research",
        research_tool(researchers),
        description="Ask a researcher about a topic.",
        parameters=TOPIC,
        timeout=1.5,
    )
    team = otp.tools.AgentTeam(
        bus,
        [
            otp.tools.Role("researcher", Researcher, tools=["search", "summarize"], liveness=BEAT),
            otp.tools.Role("writer", Writer, tools=["research"], liveness=BEAT),
        ],
        intensity=100,
        instrument=injector.instrument,
    )
    executor = otp.tasks.Executor(
        "jobs",
        concurrency=6,
        queue_size=20,
        timeout=2.0,
        retry=otp.tasks.Retry(attempts=3, backoff=otp.Backoff(0.1, 1.0)),
    )
    stored: list[str] = []

    def store(article: str) -> None:
        if len(stored) == 4 and not summary.sink_crashes:
            summary.sink_crashes += 1
            raise OSError("disk full, once")
        stored.append(article)

    articles = otp.streams.Pipeline("articles", [otp.streams.Sink(store)], intensity=10)

    async def write(topic: str) -> str:
        reply: tuple[bool, str] = await writers.call(topic, timeout=None)  # the job's timeout
        written, article = reply
        if not written:
            raise NoArticle(article)
        await articles.send(article)
        return article

    children = [
        models.child_spec(),
        team.child_spec(),
        executor.child_spec(),
        articles.child_spec(),
    ]
    async with otp.open_supervisor(children, intensity=100, period=1.0):
        for _ in range(3):
            await team.spawn("researcher")
        for _ in range(3):
            await team.spawn("writer")
        await probe(bus, summary)
        handles: dict[str, otp.tasks.JobHandle[str]] = {}
        async with trio.open_nursery() as nursery:
            await nursery.start(injector.run)
            for n in range(jobs):
                topic = f"topic {n}"
                summary.submitted += 1
                try:
                    handles[topic] = executor.submit_nowait(write, topic, name=topic)
                except otp.tasks.QueueFull:
                    summary.rejected.append(topic)  # reported, not lost
                await trio.sleep(SUBMIT_EVERY)
        summary.accepted = len(handles)
        for topic, handle in handles.items():
            try:
                await handle
                summary.succeeded += 1
            except otp.tasks.JobError as error:
                summary.failed[topic] = f"{type(error).__name__}: {error.__cause__!r}"
        articles.close()
        with trio.fail_after(10):
            await articles.drained()
        summary.stored = len(stored)
        summary.tools = bus.statistics()
        summary.pool_exhausted = models.statistics().exhausted
    summary.faults.update(str(r.fault.kind) for r in injector.records if r.applied)
    return summary


def report(summary: Summary) -> str:
    """The figures of a run, as printed."""
    lines = [
        (
            f"jobs      submitted {summary.submitted}, accepted {summary.accepted}, "
            f"rejected {len(summary.rejected)} (queue full, each reported)"
        ),
        (
            f"          succeeded {summary.succeeded}, failed {len(summary.failed)}, "
            f"lost {summary.lost}"
        ),
    ]
    lines += [f"          failed {topic}: {why}" for topic, why in sorted(summary.failed.items())]
    faults = ", ".join(f"{kind} {count}" for kind, count in sorted(summary.faults.items()))
    lines.append(f"faults    {sum(summary.faults.values())} fired ({faults})")
    for name, stats in summary.tools.items():
        lines.append(
            f"tool      {name:<10} calls {stats.calls:>4}  ok {stats.ok:>4}  errors "
            f"{stats.errors:>3}  denied {stats.denied}  timed out {stats.timed_out}"
        )
    lines.append(
        f"models    pool exhausted {summary.pool_exhausted} times "
        "(the researchers fell back to raw facts)"
    )
    lines.append(
        f"articles  stored {summary.stored} (the sink crashed {summary.sink_crashes} time, "
        "and lost none)"
    )
    lines += [f"probe     {line}" for line in summary.probes]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the team once and print its figures; exit 1 if an accepted job was lost."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--seed", type=int, default=7, help="the fault plan's seed")
    parser.add_argument("--jobs", type=int, default=100, help="jobs the client submits")
    parser.add_argument(
        "--virtual-time", action="store_true", help="run on Trio's mock clock, at once"
    )
    parser.add_argument("--log", action="store_true", help="show the crash reports too")
    args = parser.parse_args(argv)
    if not args.log:  # the faults are on purpose: their reports would drown the figures
        logging.getLogger("otp").setLevel(logging.CRITICAL)
    clock = trio.testing.MockClock(autojump_threshold=0) if args.virtual_time else None
    summary = trio.run(functools.partial(run, args.seed, args.jobs), clock=clock)
    print(report(summary))
    ok = summary.lost == 0 and summary.stored == summary.succeeded
    print("every accepted job is accounted for" if ok else "JOBS WERE LOST", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
