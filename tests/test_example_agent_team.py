"""The agent team example under its fault plans: nothing accepted is lost, all is reported."""

from __future__ import annotations

import functools

import pytest
import trio
from trio.testing import MockClock

from examples import agent_team


@pytest.mark.parametrize("seed", [3, 7, 11])
def test_every_accepted_job_is_accounted_for_under_faults(seed: int) -> None:
    summary = trio.run(
        functools.partial(agent_team.run, seed, 100), clock=MockClock(autojump_threshold=0)
    )
    assert summary.lost == 0
    assert summary.accepted + len(summary.rejected) == summary.submitted == 100
    assert summary.rejected  # the client outpaces the team: rejections happen, each reported
    assert summary.stored == summary.succeeded  # the sink's crash lost no article
    assert summary.sink_crashes == 1
    assert sum(summary.faults.values()) >= 3
    assert {"crash"} <= set(summary.faults)
    assert [probe.split(":")[0] for probe in summary.probes] == [
        "PermissionDenied",
        "InvalidArguments",
        "UnknownTool",
    ]
    assert summary.tools["search"].denied == 1


def test_the_program_prints_its_figures_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert agent_team.main(["--virtual-time", "--jobs", "40", "--seed", "5"]) == 0
    out, err = capsys.readouterr()
    assert "lost 0" in out
    assert "probe     PermissionDenied: agent 'writer-1' may not call tool 'search'" in out
    assert "every accepted job is accounted for" in err
