"""The public surface: everything in otp.__all__ exists, is documented and shows as otp.X."""

from __future__ import annotations

import inspect

import pytest

import otp
import otp.testing


@pytest.mark.parametrize("name", otp.__all__)
def test_public_names_exist_and_have_docstrings_with_examples(name: str) -> None:
    obj = getattr(otp, name)
    if isinstance(obj, otp.ShutdownMode):
        return  # BRUTAL_KILL and INFINITY are enum members, documented on the enum
    doc = inspect.getdoc(obj)
    assert doc, f"otp.{name} has no docstring"
    assert "Example" in doc or ">>>" in doc, f"otp.{name}'s docstring has no example"


@pytest.mark.parametrize("name", otp.__all__)
def test_public_classes_and_functions_show_as_otp(name: str) -> None:
    obj = getattr(otp, name)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        assert obj.__module__ == "otp"


def test_all_is_sorted_and_complete() -> None:
    assert sorted(otp.__all__) == sorted(set(otp.__all__))
    public = {
        name
        for name in dir(otp)
        if not name.startswith("_") and not inspect.ismodule(getattr(otp, name))
    }
    assert public - set(otp.__all__) == set()


@pytest.mark.parametrize("name", otp.testing.__all__)
def test_testing_kit_is_documented(name: str) -> None:
    doc = inspect.getdoc(getattr(otp.testing, name))
    assert doc
    assert "Example" in doc


def test_handles_are_final() -> None:
    for cls in (otp.Supervisor, otp.DynamicSupervisor, otp.Child, otp.ChildSpec):
        assert getattr(cls, "__final__", False), cls
