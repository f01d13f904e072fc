"""The ``python -m otp.dist`` commands: run a broker, run a node (with a tree), call a server.

* ``server [-- ARGS]``: a nats-server on 127.0.0.1 on a free port (JetStream on); prints
  ``nats-server: URL``.
* ``node --name N --server URL [--tree FILE] [--role R]... [--cluster C] [--heartbeat S]
  [--tls-ca FILE] [--nkey FILE]``:
  joins the cluster as node ``N``, hosts remote children (for its name and roles) and, with
  ``--tree``, runs that tree file's root supervisor in the node. It prints ``ready <id>``
  once up, and leaves the cluster on SIGINT or SIGTERM (exit code 0).
* ``bench [--nodes 3] [--duration S] [--json FILE] [--plot FILE]``: the fault-injection
  benchmark across node processes (node kills, pauses, a broker restart); see ``_bench``.
* ``call NAME REQUEST --server URL [--global] [--timeout S]``: one call, the request and
  reply in JSON; ``--global`` calls a global name rather than an exported one.

Exit codes: 0 done, 1 the call or node failed, 2 a bad command line or tree file.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import ssl
import sys
from collections.abc import Sequence
from typing import Any

import trio

import otp

from ._errors import DistError
from ._node import open_node
from ._remote import declare, remote_child
from ._server import run_nats_server

__all__ = ["check_tree", "main"]


def check_tree(tree: otp.Tree) -> None:
    """Check the declaration of each of the root's remote children now, not at its start.

    Raises:
        DistDeclarationError: A remote child's declaration is bad.

    Example::

        otp.dist.check_tree(otp.load_tree("owner.toml"))
    """
    for spec in tree.children:
        if spec.start is remote_child:
            if len(spec.args) != 1:
                msg = f"remote child {spec.id!r}: takes one argument, its declaration table"
                raise DistError(msg)
            declare(spec.args[0])


async def _serve(args: tuple[str, ...]) -> None:
    # SIGTERM too: dying of it untrapped would orphan the nats-server process.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(functools.partial(run_nats_server, args=args))
            print(f"nats-server: {url}", flush=True)  # noqa: T201  (what the command is for)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


async def _node(options: argparse.Namespace, tree: otp.Tree | None) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with (
            open_node(
                options.server,
                options.name,
                cluster=options.cluster,
                roles=options.role,
                heartbeat_interval=options.heartbeat,
                ssl_context=_tls(options),
                nkey_seed=_seed(options),
            ) as node,
            trio.open_nursery() as nursery,
        ):
            if tree is not None:
                await nursery.start(tree.run)
            print(f"ready {node.id}", flush=True)  # noqa: T201  (what the command is for)
            async for _ in signals:
                nursery.cancel_scope.cancel()  # the tree stops, then the node leaves
                break


async def _call(options: argparse.Namespace, request: object) -> object:
    async with open_node(
        options.server,
        f"cli{os.getpid()}",
        cluster=options.cluster,
        ssl_context=_tls(options),
        nkey_seed=_seed(options),
    ) as node:
        ref = node.global_ref(options.name) if options.is_global else node.remote(options.name)
        return await ref.call(request, timeout=options.timeout)


def _tls(options: argparse.Namespace) -> ssl.SSLContext | None:
    if options.tls_ca is None:
        return None  # the system's trust store, if the server asks for TLS
    return ssl.create_default_context(cafile=options.tls_ca)


def _seed(options: argparse.Namespace) -> str | None:
    if options.nkey is None:
        return None
    with open(options.nkey, encoding="utf-8") as file:  # noqa: PTH123  (small, once)
        return file.read().strip()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m otp.dist", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("server", help="run nats-server on 127.0.0.1, a free port")
    server.add_argument("extra", nargs="*", help="more nats-server arguments (after --)")
    node = commands.add_parser("node", help="run a node of a cluster, with a tree or not")
    node.add_argument("--name", required=True, help="the node's name, unique in the cluster")
    node.add_argument("--server", required=True, help="the NATS server's URL")
    node.add_argument("--tree", help="a tree file (TOML or JSON) to run in this node")
    node.add_argument("--role", action="append", default=[], help="a role it hosts (repeat)")
    node.add_argument("--cluster", default="main", help="the cluster's name (default main)")
    node.add_argument("--heartbeat", type=float, default=1.0, help="seconds between beats")
    node.add_argument("--tls-ca", help="a CA file (PEM) to trust for TLS to the server")
    node.add_argument("--nkey", help="a file holding the user's nkey seed (SU...)")
    commands.add_parser("bench", help="the fault-injection benchmark across nodes", add_help=False)
    call = commands.add_parser("call", help="call a server of the cluster once")
    call.add_argument("name", help="the exported (or, with --global, global) name")
    call.add_argument("request", help="the request, in JSON")
    call.add_argument("--server", required=True, help="the NATS server's URL")
    call.add_argument("--global", dest="is_global", action="store_true", help="a global name")
    call.add_argument("--cluster", default="main")
    call.add_argument("--timeout", type=float, default=5.0)
    call.add_argument("--tls-ca", help="a CA file (PEM) to trust for TLS to the server")
    call.add_argument("--nkey", help="a file holding the user's nkey seed (SU...)")
    return parser


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run it; the exit code."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["bench"]:
        from ._bench import main as bench  # noqa: PLC0415  (its own options)

        return bench(arguments[1:])
    options = _parser().parse_args(arguments)
    where = f"python -m otp.dist {options.command}"
    if options.command == "server":
        runner: Any = functools.partial(_serve, tuple(options.extra))
    elif options.command == "node":
        tree = None
        if options.tree is not None:
            try:
                tree = otp.load_tree(options.tree)
                check_tree(tree)
            except (otp.TreeError, DistError, OSError) as error:
                print(f"{where}: {error}", file=sys.stderr)  # noqa: T201
                return 2
        runner = functools.partial(_node, options, tree)
    else:
        try:
            request: Any = json.loads(options.request)
        except ValueError as error:
            print(f"{where}: REQUEST is not JSON: {error}", file=sys.stderr)  # noqa: T201
            return 2
        runner = functools.partial(_call, options, request)
    failure: BaseExceptionGroup[otp.OtpError] | None = None
    result = None
    try:
        try:
            result = trio.run(runner)
        except* otp.OtpError as group:
            failure = group
    except KeyboardInterrupt:
        return 130
    if failure is not None:
        for leaf in _leaves(failure):
            print(f"{where}: {type(leaf).__name__}: {leaf}", file=sys.stderr)  # noqa: T201
        return 1
    if options.command == "call":
        print(json.dumps(result))  # noqa: T201  (what the command is for)
    return 0
