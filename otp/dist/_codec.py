"""Payload codecs of remote calls: JSON (the default) or msgpack (``otp[msgpack]``).

A caller encodes its requests with its node's codec and names it in the ``Otp-Codec``
header (absent means JSON); the server decodes by that header and answers in the same
codec, so nodes of both kinds work together. Control messages are always JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, final

import attrs

from ._errors import DistDeclarationError

__all__ = ["JSON", "Codec", "codec_named"]


@final
@attrs.frozen
class Codec:
    """A name and a pair of functions; ``loads`` raises ``ValueError`` on bad input."""

    name: str
    dumps: Callable[[object], bytes]
    loads: Callable[[bytes], Any]


def _json_dumps(value: object) -> bytes:
    return json.dumps(value).encode()


JSON = Codec("json", _json_dumps, json.loads)


def _msgpack() -> Codec:
    try:
        import msgpack  # noqa: PLC0415  (an optional extra)
    except ImportError:
        msg = "the msgpack codec needs the msgpack package: pip install 'otp[msgpack]'"
        raise DistDeclarationError(msg) from None

    def dumps(value: object) -> bytes:
        packed: bytes = msgpack.packb(value)
        return packed

    def loads(data: bytes) -> Any:  # noqa: ANN401  (whatever was packed)
        try:
            return msgpack.unpackb(data, raw=False)
        except Exception as error:  # msgpack's own family of unpacking errors
            msg = f"not msgpack: {error}"
            raise ValueError(msg) from error

    return Codec("msgpack", dumps, loads)


def codec_named(name: str) -> Codec:
    """The codec called ``name`` (``"json"`` or ``"msgpack"``)."""
    if name == "json":
        return JSON
    if name == "msgpack":
        return _msgpack()
    msg = f"codec must be 'json' or 'msgpack' (got {name!r})"
    raise DistDeclarationError(msg)
