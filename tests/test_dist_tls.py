"""TLS to a real nats-server that requires it, with a test CA (trustme)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

import otp.dist
from otp.dist import open_connection, open_node
from otp.dist._nkeys import generate_user

from .nats_broker import nats_server
from .test_dist_client import run

trustme = pytest.importorskip("trustme", reason="the TLS tests need trustme (the dev extra)")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_url(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory: Path = tmp_path_factory.mktemp("tls")
    certificate = ca.issue_cert("127.0.0.1")
    cert, key = directory / "cert.pem", directory / "key.pem"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(key))
    certificate.cert_chain_pems[0].write_to_path(str(cert))
    with nats_server("--tls", "--tlscert", str(cert), "--tlskey", str(key)) as (address, _):
        yield address


def context(ca: trustme.CA) -> ssl.SSLContext:
    trusted = ssl.create_default_context()
    ca.configure_trust(trusted)
    return trusted


async def echo(connection: otp.dist.Connection, requests: otp.dist.Subscription) -> None:
    message = await requests.next()
    assert message.reply is not None
    connection.publish(message.reply, message.payload * 2)


def test_a_server_that_requires_tls_gets_it(tls_url: str, ca: trustme.CA) -> None:
    async def main() -> list[bytes]:
        secure = tls_url.replace("nats://", "tls://")
        replies = []
        # A nats:// URL is upgraded because the server's INFO requires TLS; tls:// asks for it.
        for url in (tls_url, secure):
            async with (
                open_connection(url, ssl_context=context(ca)) as a,
                open_connection(url, ssl_context=context(ca)) as b,
            ):
                requests = b.subscribe("tls.echo")
                await b.flush()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(echo, b, requests)
                    replies.append((await a.request("tls.echo", b"ab", timeout=5)).payload)
        return replies

    assert run(main) == [b"abab", b"abab"]


def test_nodes_talk_over_tls(tls_url: str, ca: trustme.CA) -> None:
    async def main() -> object:
        async with (
            open_node(tls_url, "a", ssl_context=context(ca)),
            open_node(tls_url, "b", ssl_context=context(ca)) as b,
        ):
            return await b.node_info("a")

    assert run(main)["node"].startswith("a@")  # type: ignore[index]


def test_an_untrusted_certificate_is_a_clear_connect_error(tls_url: str) -> None:
    async def main() -> None:
        async with open_connection(tls_url):  # the system's trust store: not our test CA
            pass

    with pytest.raises(otp.dist.ConnectError, match=r"no TLS with the server at .*CERTIFICATE"):
        run(main)


# --- nkeys --------------------------------------------------------------------------------


def test_a_user_nkey_signs_the_servers_nonce(tmp_path: Path) -> None:
    pytest.importorskip("cryptography", reason="nkeys need cryptography (otp[nkeys])")

    seed, public = generate_user()
    _, stranger = generate_user()
    config = tmp_path / "nkeys.conf"
    config.write_text(f'authorization {{ users = [ {{ nkey: "{public}" }} ] }}\n')
    with nats_server("-c", str(config)) as (url, _):

        async def connect(key: str | None) -> None:
            async with open_connection(url, nkey_seed=key) as connection:
                await connection.flush()

        run(lambda: connect(seed))
        with pytest.raises(otp.dist.ConnectError, match="Authorization Violation"):
            run(lambda: connect(generate_user()[0]))  # a seed the server does not know
        with pytest.raises(otp.dist.ConnectError, match="Authorization Violation"):
            run(lambda: connect(None))  # no key at all
    assert stranger.startswith("U")
    assert len(public) == 56
    assert seed.startswith("SU")


def test_a_bad_seed_is_refused_before_connecting() -> None:
    pytest.importorskip("cryptography", reason="nkeys need cryptography (otp[nkeys])")

    async def main() -> None:
        async with open_connection("nats://127.0.0.1:1", nkey_seed="SUNOTASEED"):
            pass

    with pytest.raises(otp.dist.DistDeclarationError, match="checksum is wrong"):
        run(main)
