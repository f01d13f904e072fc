"""The documentation's examples run, and print exactly what the docs say they print.

A ```python block immediately followed by a ```text block (blank lines between are allowed)
is a complete program: it is run with ``trio.run`` patched to use a
``MockClock(autojump_threshold=0)``, so its sleeps take no real time, and its standard output
must equal the text block. Every other ```python block must compile; snippets may use
``await`` at top level, since they show calls made inside an async function.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import otp
import otp.app
import otp.config
import otp.dist
import otp.events
import otp.health
import otp.metrics
import otp.middleware
import otp.persist
import otp.pool
import otp.routing
import otp.streams
import otp.tasks
import otp.testing
import otp.tools

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


class Block:
    """One ```python block, with the ```text block that follows it, if any."""

    def __init__(self, path: Path, line: int, source: str, expected: str | None) -> None:
        self.path = path
        self.line = line
        self.source = source
        self.expected = expected

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def collect_blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    fences = list(FENCE.finditer(text))
    blocks = []
    for index, fence in enumerate(fences):
        if fence.group("info").strip() != "python":
            continue
        expected = None
        if index + 1 < len(fences):
            following = fences[index + 1]
            between = text[fence.end() : following.start()]
            if following.group("info").strip() == "text" and not between.strip():
                expected = following.group("body")
        line = text.count("\n", 0, fence.start()) + 1
        blocks.append(Block(path, line, fence.group("body"), expected))
    return blocks


ALL_BLOCKS = [block for path in DOC_FILES for block in collect_blocks(path)]
PROGRAMS = [block for block in ALL_BLOCKS if block.expected is not None]
SNIPPETS = [block for block in ALL_BLOCKS if block.expected is None]


def test_the_docs_have_examples() -> None:
    # Guards the collector itself: a broken regex would make every example test vanish.
    assert len(PROGRAMS) >= 20
    readme = [block for block in PROGRAMS if block.path.name == "README.md"]
    assert len(readme) == 1


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    # Examples may attach handlers or change levels; later tests must not inherit them.
    loggers = [
        logging.getLogger(name) for name in ("otp", "otp.supervisor", "otp.tasks", "otp.streams")
    ]
    saved = [(lg, lg.level, list(lg.handlers), lg.propagate, lg.disabled) for lg in loggers]
    try:
        yield
    finally:
        for lg, level, handlers, propagate, disabled in saved:
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate = propagate
            lg.disabled = disabled


def _virtual_time_run(real_run: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(real_run)
    def run(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("clock", trio.testing.MockClock(autojump_threshold=0))
        return real_run(*args, **kwargs)

    return run


def run_program(source: str, filename: str, monkeypatch: pytest.MonkeyPatch) -> str:
    code = compile(source, filename, "exec", dont_inherit=True)  # run as written
    monkeypatch.setattr(trio, "run", _virtual_time_run(trio.run))
    out = io.StringIO()
    with _logging_restored(), contextlib.redirect_stdout(out):
        exec(code, {"__name__": "__main__", "__file__": filename})
    return out.getvalue()


@pytest.mark.parametrize("block", PROGRAMS, ids=lambda block: block.name)
def test_example_prints_what_the_docs_show(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    assert block.source.rstrip().endswith("trio.run(main)"), "end the program with trio.run(main)"
    printed = run_program(block.source, block.name, monkeypatch)
    assert printed == block.expected


@pytest.mark.parametrize("block", SNIPPETS, ids=lambda block: block.name)
def test_snippet_compiles(block: Block) -> None:
    compile(block.source, block.name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _documented_names(text: str) -> set[str]:
    pattern = r"^\.\. auto(?:function|class|exception|data|module):: ([\w.]+)"
    return set(re.findall(pattern, text, re.MULTILINE))


def test_api_reference_covers_every_public_name() -> None:
    documented = _documented_names((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))
    public = {f"otp.{name}" for name in otp.__all__}
    public |= {f"otp.testing.{name}" for name in otp.testing.__all__}
    public |= {f"otp.app.{name}" for name in otp.app.__all__}
    public |= {f"otp.config.{name}" for name in otp.config.__all__}
    public |= {f"otp.persist.{name}" for name in otp.persist.__all__}
    public |= {f"otp.health.{name}" for name in otp.health.__all__}
    public |= {f"otp.events.{name}" for name in otp.events.__all__}
    public |= {f"otp.metrics.{name}" for name in otp.metrics.__all__}
    public |= {f"otp.tasks.{name}" for name in otp.tasks.__all__}
    public |= {f"otp.routing.{name}" for name in otp.routing.__all__}
    public |= {f"otp.streams.{name}" for name in otp.streams.__all__}
    public |= {f"otp.middleware.{name}" for name in otp.middleware.__all__}
    public |= {f"otp.pool.{name}" for name in otp.pool.__all__}
    public |= {f"otp.tools.{name}" for name in otp.tools.__all__}
    public |= {f"otp.dist.{name}" for name in otp.dist.__all__}
    public |= {"otp.testing.pytest_plugin", "otp.testing.pytest_plugin.TreeRunner"}
    assert sorted(public - documented) == []
    assert sorted(documented - public - {"otp.testing"}) == []


def _have(*modules: str) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in modules)


@pytest.mark.skipif(not _have("sphinx", "myst_parser", "furo"), reason="needs the docs extra")
def test_sphinx_build_has_no_warnings(tmp_path: Path) -> None:
    # Offline: the intersphinx inventories cannot be fetched here (see docs/conf.py).
    env = {**os.environ, "OTP_DOCS_OFFLINE": "1"}
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    result = subprocess.run(
        [*command, str(ROOT / "docs"), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "html" / "supervisors.html").exists()
