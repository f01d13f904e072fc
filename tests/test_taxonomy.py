"""The error taxonomy: every public exception has a family, and docs/errors.md shows them all."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import otp
import otp.persist

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_errors", ROOT / "docs" / "gen_errors.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_exception_has_a_family_of_its_own() -> None:
    generator = _generator()
    assert len(generator.public_exceptions()) >= 40  # guards the collector itself
    assert generator.unclassified() == []


def test_the_docs_table_is_what_the_code_declares() -> None:
    generator = _generator()
    page = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert generator.render(page) == page, "run: python docs/gen_errors.py"
    for name, _ in generator.public_exceptions():
        assert f"{{exc}}`{name}`" in page


def test_the_generator_checks_from_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "gen_errors.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("error", "family", "severity", "recovery"),
    [
        (otp.ChildSpecError("x"), "declaration", otp.Severity.BUG, otp.Recovery.REJECT),
        (otp.CallTimeout("x"), "call", otp.Severity.TRANSIENT, otp.Recovery.RAISE),
        (otp.NoProc, "call", otp.Severity.TRANSIENT, otp.Recovery.RAISE),
        (otp.Shutdown(), "control", otp.Severity.CONTROL, otp.Recovery.RESTART),
        (otp.RestartIntensityExceeded, "give up", otp.Severity.FATAL, otp.Recovery.ESCALATE),
        (otp.persist.StoreFull, "store unusable", otp.Severity.FATAL, otp.Recovery.RESTART),
        (otp.OtpError, "base", otp.Severity.VARIES, otp.Recovery.VARIES),
    ],
)
def test_error_family_reads_instances_and_classes(
    error: object, family: str, severity: otp.Severity, recovery: otp.Recovery
) -> None:
    found = otp.error_family(error)  # type: ignore[arg-type]
    assert found is not None
    assert (found.name, found.severity, found.recovery) == (family, severity, recovery)


def test_a_subclass_inherits_its_family_and_foreign_errors_have_none() -> None:
    class MyTimeout(otp.CallTimeout):
        pass

    assert otp.error_family(MyTimeout("late")) is otp.error_family(otp.CallTimeout)
    assert otp.error_family(ValueError("x")) is None
    assert otp.error_family(KeyboardInterrupt) is None


async def test_the_errors_the_library_raises_carry_their_family() -> None:
    with pytest.raises(otp.ChildSpecError) as declared:
        otp.ChildSpec("w", "not a function")  # type: ignore[arg-type]
    assert otp.error_family(declared.value).recovery is otp.Recovery.REJECT  # type: ignore[union-attr]
    async with otp.open_supervisor([]) as sup:
        with pytest.raises(otp.ChildNotFound) as refused:
            await sup.terminate_child("nobody")
    assert otp.error_family(refused.value).name == "admin"  # type: ignore[union-attr]
