"""Distribution over a real NATS server; this first part is a Trio-native NATS core client.

:func:`open_connection` connects to a NATS server for an ``async with`` block and gives a
:class:`Connection`: :meth:`~Connection.publish`, :meth:`~Connection.subscribe` (with queue
groups and wildcards), :meth:`~Connection.request` (inbox replies; "no responders" at once),
headers, and keepalive PINGs, all in the block's nursery. :func:`run_nats_server` runs the
real ``nats-server`` binary on loopback (``python -m otp.dist server``). :func:`open_node`
joins a cluster: :meth:`Node.export` serves a local server under a cluster name and
:meth:`Node.remote` calls one from anywhere, with the caller's deadline carried along.
Heartbeats feed each peer's phi detector; :func:`remote_child_spec` gives a supervisor a
child on another node, restarted elsewhere when that node goes down; global names,
broadcasts and remote monitors complete it (see ``docs/distribution.md``).

The path of a message, by module: ``_client`` queues the frame ``_protocol`` encodes and
its writer task sends it; its reader task feeds what arrives to ``_protocol``'s parser and
hands each message to its subscription or waiting request. The path of a node's crash:
``_node`` hears the silence (``_peers``: phi), fails the calls it served (``_ref``),
releases its names (``_names`` over ``_kv``), and ends the proxies (``_remote``) of the
children it hosted (``_host``), whose supervisors restart them elsewhere.

Example::

    async with otp.dist.open_connection("nats://127.0.0.1:4222") as connection:
        async with connection.subscribe("otp.main.svc.echo", queue="echo") as requests:
            ...
"""

from ._bench import main as cluster_bench
from ._cli import check_tree as check_tree
from ._client import Connection as Connection
from ._client import ConnectionStatistics as ConnectionStatistics
from ._client import Subscription as Subscription
from ._client import open_connection as open_connection
from ._errors import ConnectError as ConnectError
from ._errors import ConnectionClosed as ConnectionClosed
from ._errors import DistDeclarationError as DistDeclarationError
from ._errors import DistError as DistError
from ._errors import NameTaken as NameTaken
from ._errors import NodeDown as NodeDown
from ._errors import NoNodeAvailable as NoNodeAvailable
from ._errors import NoResponders as NoResponders
from ._errors import PartialBroadcast as PartialBroadcast
from ._errors import ProtocolError as ProtocolError
from ._errors import RemoteChildFailed as RemoteChildFailed
from ._errors import RemoteError as RemoteError
from ._errors import RequestTimeout as RequestTimeout
from ._groups import BroadcastResult as BroadcastResult
from ._monitors import RemoteDown as RemoteDown
from ._monitors import RemoteMonitor as RemoteMonitor
from ._names import Owner as Owner
from ._node import DeadLetter as DeadLetter
from ._node import Node as Node
from ._node import current_node as current_node
from ._node import open_node as open_node
from ._peers import PeerEvent as PeerEvent
from ._peers import PeerInfo as PeerInfo
from ._peers import Peers as Peers
from ._peers import PeerState as PeerState
from ._protocol import Msg as Msg
from ._protocol import Parser as Parser
from ._ref import RemoteRef as RemoteRef
from ._remote import RemoteChild as RemoteChild
from ._remote import remote_child as remote_child
from ._remote import remote_child_spec as remote_child_spec
from ._server import find_nats_server as find_nats_server
from ._server import run_nats_server as run_nats_server

__all__ = [
    "BroadcastResult",
    "ConnectError",
    "Connection",
    "ConnectionClosed",
    "ConnectionStatistics",
    "DeadLetter",
    "DistDeclarationError",
    "DistError",
    "Msg",
    "NameTaken",
    "NoNodeAvailable",
    "NoResponders",
    "Node",
    "NodeDown",
    "Owner",
    "Parser",
    "PartialBroadcast",
    "PeerEvent",
    "PeerInfo",
    "PeerState",
    "Peers",
    "ProtocolError",
    "RemoteChild",
    "RemoteChildFailed",
    "RemoteDown",
    "RemoteError",
    "RemoteMonitor",
    "RemoteRef",
    "RequestTimeout",
    "Subscription",
    "check_tree",
    "cluster_bench",
    "current_node",
    "find_nats_server",
    "open_connection",
    "open_node",
    "remote_child",
    "remote_child_spec",
    "run_nats_server",
]
