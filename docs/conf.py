"""Sphinx configuration for the otp documentation (MyST Markdown, Furo, autodoc)."""

from __future__ import annotations

import os

import otp

project = "otp"
author = "The otp developers"
copyright = "The otp developers"  # noqa: A001  (Sphinx's name for it)
release = otp.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

html_theme = "furo"
html_title = f"otp {release}"

myst_heading_anchors = 3

# Docstrings are Google style ("Args:", "Raises:", "Attributes:", "Example::").
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Render "Attributes:" sections as fields of the class, so they do not collide with
# autodoc's own entries for the same attributes.
napoleon_use_ivar = True

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}

# The inventories are fetched when the docs are built. Without a network (the test suite's
# build, CI), set OTP_DOCS_OFFLINE=1: links to Python and Trio are then left out instead of
# failing the -W build on an unreachable inventory.
OFFLINE = bool(os.environ.get("OTP_DOCS_OFFLINE"))
intersphinx_mapping = (
    {}
    if OFFLINE
    else {
        "python": ("https://docs.python.org/3", None),
        "trio": ("https://trio.readthedocs.io/en/stable", None),
    }
)

# Every cross-reference must resolve, except the private type aliases in signatures (the
# prose spells out what they accept) and, offline, what the inventories would have resolved.
nitpicky = True
nitpick_ignore = [
    ("py:class", alias)
    for alias in (
        "AutoShutdownLike",
        "ChildTypeLike",
        "Hook",
        "RandomSource",
        "RestartLike",
        "ShutdownLike",
        "StartFunction",
        "StrategyLike",
    )
]
# otp.Child's docstring refers to :attr:`exit`; napoleon renders its attributes as fields,
# which are not reference targets.
nitpick_ignore.append(("py:attr", "exit"))
nitpick_ignore_regex = (
    [(r"py:.*", r"(trio|collections\.abc|functools|os|ssl|typing)\..*")] if OFFLINE else []
)
# Type variables of the generic server classes are not documented objects.
nitpick_ignore += [("py:class", f"otp._server.{name}") for name in ("RequestT", "ReplyT")]
nitpick_ignore += [("py:class", "otp._breaker.T"), ("py:class", "Ts")]
nitpick_ignore += [("py:class", "otp.testing._recorder.EventT")]
# otp.config: its type variables, its sink alias and trio-util's AsyncValue (no inventory).
nitpick_ignore += [
    ("py:class", name)
    for name in (
        "T",
        "Sink",
        "otp.config._aware.RequestT",
        "otp.config._aware.ReplyT",
        "otp.config._holder.T",
        "otp.config._loader.T",
        "trio_util._async_value.AsyncValue",
    )
]
# otp.persist: callable aliases in signatures, and cattrs (no inventory).
nitpick_ignore += [("py:class", name) for name in ("Upcaster", "Action", "Compensation", "Handler")]
nitpick_ignore += [("py:class", "cattrs.Converter"), ("py:class", "cattrs.converters.Converter")]
# A type alias documented in the text of otp.observe_calls.
nitpick_ignore += [("py:class", "CallObserver")]
if OFFLINE:
    nitpick_ignore += [
        ("py:class", name)
        for name in ("pathlib.Path", "logging.Logger", "contextlib.AbstractAsyncContextManager")
    ]
nitpick_ignore += [
    ("py:class", f"otp.tasks.{module}.{name}")
    for module in ("_executor", "_job", "_helpers")
    for name in ("T", "R")
]
nitpick_ignore += [("py:class", "otp.pool._pool.R"), ("py:class", "R")]
# otp.dist's Connection takes the server's INFO frame, an internal type.
nitpick_ignore += [("py:class", "Info")]
# The alias otp.routing's signatures use for otp.ServerRef[Any, Any].
nitpick_ignore += [("py:class", "Ref")]
