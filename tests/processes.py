"""Real subprocesses for tests: line-by-line stdout, bounded waits, no process left behind."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WAIT = 10.0  # seconds: a bound on each wait, never reached when things work


class Process:
    """A running program, with its stdout read line by line in a thread.

    Every read and wait is bounded by ``WAIT``; :meth:`close` kills what is still running.
    """

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.errors: list[str] = []
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()
        self.error_pump = threading.Thread(target=self._pump_errors, daemon=True)
        self.error_pump.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _pump_errors(self) -> None:
        assert self.proc.stderr is not None
        self.errors.extend(self.proc.stderr)

    def wait_for(self, text: str) -> None:
        if text == "app-started":
            text = "': started ("  # the runner's line, not a child's
        while True:
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"no line with {text!r} within {WAIT} s; saw {self.seen}")
            if line is None:
                pytest.fail(f"stdout ended before a line with {text!r}; saw {self.seen}")
            self.seen.append(line)
            if text in line:
                return

    def finish(self) -> tuple[int, list[str], str]:
        try:
            self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("the process did not exit in time")
        self.error_pump.join(timeout=WAIT)
        stderr = "".join(self.errors)
        while True:
            line = self.lines.get(timeout=WAIT)
            if line is None:
                break
            self.seen.append(line)
        return self.proc.returncode, self.seen, stderr

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT)
        self.pump.join(timeout=WAIT)
        self.error_pump.join(timeout=WAIT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
