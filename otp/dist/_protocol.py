"""Pure: the NATS client protocol, as frames parsed from bytes and frames encoded to bytes.

The protocol is line based: a control line ends in CRLF; ``MSG`` and ``HMSG`` are followed by
a payload of the size they announce, then CRLF. :class:`Parser` is incremental: feed it what
the socket gave, get back every complete frame. Nothing here does I/O.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Final, final

import attrs

from ._errors import DistDeclarationError, ProtocolError

__all__ = [
    "Err",
    "Info",
    "Msg",
    "Ok",
    "Parser",
    "Ping",
    "Pong",
    "encode_connect",
    "encode_headers",
    "encode_pub",
    "encode_sub",
    "encode_unsub",
]

CRLF: Final = b"\r\n"
PING: Final = b"PING\r\n"
PONG: Final = b"PONG\r\n"
MAX_CONTROL_LINE: Final = 4096
HEADER_LINE: Final = b"NATS/1.0"

_SUBJECT = re.compile(r"^[^\s.*>]+(\.[^\s.*>]+)*$")
_PATTERN = re.compile(r"^([^\s.*>]+|\*)(\.([^\s.*>]+|\*))*(\.>)?$|^>$")


@functools.lru_cache(maxsize=4096)  # subjects repeat; a bad one raises, and is not cached
def check_subject(subject: str, *, wildcards: bool = False) -> bytes:
    """``subject`` as bytes, or an error naming it (wildcards only where they may be)."""
    pattern = _PATTERN if wildcards else _SUBJECT
    given: object = subject
    if not isinstance(given, str) or not pattern.match(given):
        kind = "a subject pattern" if wildcards else "a subject (no spaces or wildcards)"
        msg = f"expected {kind} such as 'otp.main.node1', got {subject!r}"
        raise DistDeclarationError(msg)
    return subject.encode()


@final
@attrs.frozen
class Info:
    """The server's ``INFO``: its id, version, limits and what it supports."""

    options: Mapping[str, object]

    @property
    def max_payload(self) -> int:
        value = self.options.get("max_payload", 1024 * 1024)
        return int(value) if isinstance(value, int | float | str) else 1024 * 1024


@final
@attrs.frozen
class Msg:
    """A message delivered to subscription ``sid``.

    ``status`` is set for status messages (503: no responders), ``headers`` for messages
    sent with headers.
    """

    subject: str
    sid: int
    reply: str | None
    payload: bytes
    headers: Mapping[str, str] | None = None
    status: int | None = None


@final
@attrs.frozen
class Ping:
    """The server checks that the client is alive: answer with PONG."""


@final
@attrs.frozen
class Pong:
    """The answer to a PING the client sent."""


@final
@attrs.frozen
class Ok:
    """``+OK`` (only sent in verbose mode)."""


@final
@attrs.frozen
class Err:
    """``-ERR``: the server's complaint; most close the connection."""

    message: str


Frame = Info | Msg | Ping | Pong | Ok | Err


def parse_headers(block: bytes) -> tuple[dict[str, str], int | None]:
    """A header block (``NATS/1.0 [status]`` then ``Key: Value`` lines) as a dict and status."""
    lines = block.split(CRLF)
    first = lines[0]
    if not first.startswith(HEADER_LINE):
        msg = f"a header block must start with NATS/1.0, got {first[:40]!r}"
        raise ProtocolError(msg)
    status: int | None = None
    rest = first[len(HEADER_LINE) :].strip()
    if rest:
        code = rest.split(b" ", 1)[0]
        if not code.isdigit():
            msg = f"bad status in header line {first[:40]!r}"
            raise ProtocolError(msg)
        status = int(code)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        key, sep, value = line.partition(b":")
        if not sep or not key.strip():
            msg = f"bad header line {line[:60]!r}"
            raise ProtocolError(msg)
        headers[key.strip().decode()] = value.strip().decode()
    return headers, status


@final
class Parser:
    r"""Incremental: ``feed`` bytes, get the complete frames; keeps the rest for later.

    Example::

        >>> parser = Parser()
        >>> parser.feed(b"MSG a.b 1 5\r\nhel")
        []
        >>> parser.feed(b"lo\r\nPING\r\n")
        [Msg(subject='a.b', sid=1, reply=None, payload=b'hello', headers=None, status=None), Ping()]
    """

    __slots__ = ("_buffer", "_max_control_line", "_max_payload")

    def __init__(
        self, *, max_control_line: int = MAX_CONTROL_LINE, max_payload: int = 64 * 1024 * 1024
    ) -> None:
        self._buffer = bytearray()
        self._max_control_line = max_control_line
        self._max_payload = max_payload

    def feed(self, data: bytes) -> list[Frame]:
        buffer = self._buffer
        buffer += data
        frames: list[Frame] = []
        start = 0
        while True:
            end = buffer.find(CRLF, start)
            if end < 0:
                if len(buffer) - start > self._max_control_line:
                    msg = (
                        f"a control line longer than {self._max_control_line} bytes: "
                        f"{bytes(buffer[start : start + 40])!r}..."
                    )
                    raise ProtocolError(msg)
                break
            line = bytes(buffer[start:end])
            op = line[:4].upper()
            if op in (b"MSG ", b"HMSG"):
                found = self._message(buffer, line, end, headers=op == b"HMSG")
                if found is None:
                    break  # a message whose payload has not all arrived
                parsed, start = found
            else:
                parsed = self._control(line)
                start = end + 2
            frames.append(parsed)
        del buffer[:start]
        return frames

    def _message(
        self, buffer: bytearray, line: bytes, end: int, *, headers: bool
    ) -> tuple[Frame, int] | None:
        parts = line.split()
        reply: bytes | None = None
        try:
            if headers and len(parts) in (5, 6):
                subject, sid = parts[1], parts[2]
                reply = parts[3] if len(parts) == 6 else None
                header_bytes, total_bytes = int(parts[-2]), int(parts[-1])
            elif not headers and len(parts) in (4, 5):
                subject, sid = parts[1], parts[2]
                reply = parts[3] if len(parts) == 5 else None
                header_bytes, total_bytes = 0, int(parts[-1])
            else:
                raise ValueError
            sid_number = int(sid)
        except ValueError:
            msg = f"malformed message line {line[:80]!r}"
            raise ProtocolError(msg) from None
        if total_bytes > self._max_payload or not 0 <= header_bytes <= total_bytes:
            msg = f"message sizes out of bounds in {line[:80]!r}"
            raise ProtocolError(msg)
        body_start = end + 2
        body_end = body_start + total_bytes
        if len(buffer) < body_end + 2:
            return None
        if buffer[body_end : body_end + 2] != CRLF:
            msg = f"a message payload not followed by CRLF after {line[:80]!r}"
            raise ProtocolError(msg)
        head: dict[str, str] | None = None
        status = None
        if headers:
            head, status = parse_headers(bytes(buffer[body_start : body_start + header_bytes]))
        payload = bytes(buffer[body_start + header_bytes : body_end])
        message = Msg(
            subject.decode(),
            sid_number,
            None if reply is None else reply.decode(),
            payload,
            head,
            status,
        )
        return message, body_end + 2

    @staticmethod
    def _control(line: bytes) -> Frame:
        op, _, rest = line.partition(b" ")
        op = op.upper()
        if op == b"PING":
            return Ping()
        if op == b"PONG":
            return Pong()
        if op == b"+OK":
            return Ok()
        if op == b"-ERR":
            return Err(rest.decode(errors="replace").strip().strip("'"))
        if op == b"INFO":
            try:
                options = json.loads(rest)
            except ValueError:
                options = None
            if not isinstance(options, dict):
                msg = f"INFO carries no JSON object: {rest[:80]!r}"
                raise ProtocolError(msg)
            return Info(options)
        msg = f"unknown operation {line[:40]!r}"
        raise ProtocolError(msg)


def encode_connect(options: Mapping[str, object]) -> bytes:
    return b"CONNECT " + json.dumps(options, separators=(",", ":")).encode() + CRLF


def encode_headers(headers: Mapping[str, str]) -> bytes:
    lines = [HEADER_LINE]
    for key, value in headers.items():
        if not key or any(c in key for c in ":\r\n ") or any(c in value for c in "\r\n"):
            msg = f"header {key!r}: {value!r} cannot be sent (no ':', spaces or line breaks)"
            raise DistDeclarationError(msg)
        lines.append(f"{key}: {value}".encode())
    return CRLF.join(lines) + CRLF + CRLF


def encode_pub(
    subject: bytes, payload: bytes, *, reply: bytes | None = None, headers: bytes | None = None
) -> bytes:
    middle = b" " + reply if reply is not None else b""
    if headers is None:
        size = str(len(payload)).encode()
        return b"".join((b"PUB ", subject, middle, b" ", size, CRLF, payload, CRLF))
    sizes = f"{len(headers)} {len(headers) + len(payload)}".encode()
    return b"".join((b"HPUB ", subject, middle, b" ", sizes, CRLF, headers, payload, CRLF))


def encode_sub(subject: bytes, sid: int, queue: bytes | None = None) -> bytes:
    middle = b" " + queue if queue is not None else b""
    return b"SUB " + subject + middle + b" " + str(sid).encode() + CRLF


def encode_unsub(sid: int, max_messages: int | None = None) -> bytes:
    tail = b"" if max_messages is None else b" " + str(max_messages).encode()
    return b"UNSUB " + str(sid).encode() + tail + CRLF
