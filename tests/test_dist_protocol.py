"""otp.dist's NATS protocol, pure: parsing frames from any split of the bytes, and encoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otp.dist import DistDeclarationError, Msg, Parser, ProtocolError
from otp.dist._protocol import (
    Err,
    Info,
    Ping,
    Pong,
    check_subject,
    encode_headers,
    encode_pub,
    encode_sub,
    encode_unsub,
)

STREAM = (
    b'INFO {"server_id":"S","max_payload":1048576}\r\n'
    b"MSG a.b 1 5\r\nhello\r\n"
    b"MSG a.b 1 reply.to 0\r\n\r\n"
    b"PING\r\n"
    b"HMSG _INBOX.x.1 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    b"HMSG s 2 r 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nhi\r\n"
    b"PONG\r\n"
    b"-ERR 'Stale Connection'\r\n"
)
FRAMES = [
    Info({"server_id": "S", "max_payload": 1048576}),
    Msg("a.b", 1, None, b"hello"),
    Msg("a.b", 1, "reply.to", b""),
    Ping(),
    Msg("_INBOX.x.1", 7, None, b"", {}, 503),
    Msg("s", 2, "r", b"hi", {"K": "v"}),
    Pong(),
    Err("Stale Connection"),
]


def test_a_whole_stream_parses_into_its_frames() -> None:
    assert Parser().feed(STREAM) == FRAMES
    assert Info({"max_payload": 10}).max_payload == 10


@given(cuts=st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_any_split_of_the_bytes_gives_the_same_frames(cuts: list[int]) -> None:
    parser = Parser()
    frames = []
    previous = 0
    for cut in [*sorted(cuts), len(STREAM)]:
        frames += parser.feed(STREAM[previous:cut])
        previous = cut
    assert frames == FRAMES


@given(
    payload=st.binary(max_size=300),
    subject=st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8}){0,3}", fullmatch=True),
)
def test_a_payload_with_crlf_inside_survives(payload: bytes, subject: str) -> None:
    line = f"MSG {subject} 9 {len(payload)}\r\n".encode()
    assert Parser().feed(line + payload + b"\r\n") == [Msg(subject, 9, None, payload)]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"X" * 5000, "control line longer than 4096 bytes"),
        (b"HELLO there\r\n", "unknown operation"),
        (b"MSG a.b one 5\r\nhello\r\n", "malformed message line"),
        (b"MSG a.b 1\r\n", "malformed message line"),
        (b"MSG a.b 1 2\r\nhello\r\n", "payload not followed by CRLF"),
        (b"MSG a.b 1 999999999999\r\n", "sizes out of bounds"),
        (b"HMSG a 1 30 10\r\n", "sizes out of bounds"),
        (b"INFO not-json\r\n", "INFO carries no JSON object"),
        (b"HMSG a 1 6 6\r\nHTTP/1\r\n", "header block must start with NATS/1.0"),
        (b"HMSG a 1 16 16\r\nNATS/1.0 abc\r\n\r\n\r\n", "bad status"),
        (b"HMSG a 1 19 19\r\nNATS/1.0\r\nnocolon\r\n\r\n", "bad header line"),
    ],
)
def test_malformed_frames_are_rejected_with_a_clear_error(data: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        Parser().feed(data)


def test_frames_encode_as_the_protocol_says() -> None:
    assert encode_pub(b"a.b", b"hi") == b"PUB a.b 2\r\nhi\r\n"
    assert encode_pub(b"a", b"x", reply=b"r") == b"PUB a r 1\r\nx\r\n"
    head = encode_headers({"Otp-Deadline": "1.5"})
    assert head == b"NATS/1.0\r\nOtp-Deadline: 1.5\r\n\r\n"
    assert encode_pub(b"a", b"x", headers=head) == b"HPUB a 31 32\r\n" + head + b"x\r\n"
    assert encode_sub(b"a.*", 3) == b"SUB a.* 3\r\n"
    assert encode_sub(b"svc.echo", 4, b"echo") == b"SUB svc.echo echo 4\r\n"
    assert encode_unsub(3) == b"UNSUB 3\r\n"
    assert encode_unsub(3, 1) == b"UNSUB 3 1\r\n"
    round_trip = Parser().feed(
        b"HMSG a 1 " + f"{len(head)} {len(head) + 1}".encode() + b"\r\n" + head + b"x\r\n"
    )
    assert round_trip == [Msg("a", 1, None, b"x", {"Otp-Deadline": "1.5"})]


@pytest.mark.parametrize("subject", ["", "a b", "a..b", ".a", "a.", "a.*", "a.>", 5])
def test_bad_subjects_are_refused(subject: object) -> None:
    with pytest.raises(DistDeclarationError, match="expected a subject"):
        check_subject(subject)  # type: ignore[arg-type]


def test_wildcards_are_allowed_where_they_may_be() -> None:
    for pattern in ["a.*", "a.>", "*.b.>", ">", "otp.main.hb.*"]:
        check_subject(pattern, wildcards=True)
    for bad in ["a.>.b", "a*", "a.b*"]:
        with pytest.raises(DistDeclarationError):
            check_subject(bad, wildcards=True)


@pytest.mark.parametrize("header", [{"a b": "c"}, {"a": "line\r\nbreak"}, {"": "x"}])
def test_headers_that_cannot_be_sent_are_refused(header: dict[str, str]) -> None:
    with pytest.raises(DistDeclarationError, match="cannot be sent"):
        encode_headers(header)
