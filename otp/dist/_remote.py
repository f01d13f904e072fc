"""Remote children: a child spec whose child runs on another node, owned by a local supervisor.

The local supervisor runs a small proxy child, :func:`remote_child`. The proxy picks a node
by the placement (the declared ``node`` if it is up, else any up node of the ``role``),
asks that node's host to start the child (see ``_host``), and then waits for one of:

* the host reports the child's end: the proxy ends the same way (returns for ``normal``,
  :class:`otp.Shutdown` for ``shutdown``, :class:`RemoteChildFailed` otherwise);
* the node goes down: the proxy raises :class:`NodeDown`, an abnormal exit;
* its supervisor stops it: it asks the host to stop the child and waits (bounded).

So the supervisor applies its strategy, intensity and backoff to a remote child exactly as
to a local one, and each restart places the child again: on another node when its own is
down. A node that was given up on and comes back gets a stop for each child it still runs.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from typing import Any, Literal, final

import attrs
import trio

import otp

from ._errors import (
    ConnectionClosed,
    DistDeclarationError,
    NodeDown,
    NoResponders,
    RemoteChildFailed,
    RequestTimeout,
)
from ._node import Node, check_part, current_node

__all__ = ["RemoteChild", "remote_child", "remote_child_spec"]

_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
_CHILD_KEYS = ("id", "start", "args", "name", "shutdown", "liveness", "type")
_OWN_KEYS = ("node", "role", "global_name", "start_timeout", "placement_timeout")
_STOP_MARGIN = 2.0

Restart = otp.Restart | Literal["permanent", "transient", "temporary"]


@final
@attrs.frozen
class RemoteChild:
    """Where a remote child runs: what its start gives the supervisor.

    Example::

        child = sup.which_children()[0].child
        print(child.value.node)   # the node it was placed on
    """

    instance: str
    node: str
    node_id: str


@final
@attrs.frozen
class _Declared:
    child: dict[str, Any]
    node: str | None
    role: str | None
    global_name: str | None
    start_timeout: float
    placement_timeout: float
    stop_timeout: float


def _fail(problem: str) -> DistDeclarationError:
    return DistDeclarationError(f"remote child: {problem}")


def _seconds(spec: Mapping[str, Any], key: str, default: float) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        msg = f"{key} must be a number of seconds > 0 (got {value!r})"
        raise _fail(msg)
    return float(value)


def _part(spec: Mapping[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if value is None:
        return None
    try:
        return check_part(key, value)
    except DistDeclarationError as error:
        raise _fail(str(error)) from None


def declare(spec: object) -> _Declared:
    """Check a remote child's declaration (what :func:`remote_child` takes) at once."""
    if not isinstance(spec, Mapping):
        msg = f"the declaration must be a table of keys (got {type(spec).__name__})"
        raise _fail(msg)
    unknown = sorted(set(spec) - {*_CHILD_KEYS, *_OWN_KEYS})
    if unknown:
        allowed = ", ".join(sorted((*_CHILD_KEYS, *_OWN_KEYS)))
        msg = f"unknown key {unknown[0]!r} (the keys are {allowed})"
        raise _fail(msg)
    start = spec.get("start")
    if not isinstance(start, str) or not _IMPORT_PATH.fullmatch(start):
        msg = f"start must be an import path 'package.module:function' (got {start!r})"
        raise _fail(msg)
    node, role, global_name = _part(spec, "node"), _part(spec, "role"), _part(spec, "global_name")
    if node is None and role is None:
        msg = f"{start!r} needs a placement: a node, a role or both"
        raise _fail(msg)
    if global_name is not None and spec.get("name") is None:
        msg = f"global_name {global_name!r} needs a name: the local name its host serves"
        raise _fail(msg)
    child = {key: spec[key] for key in _CHILD_KEYS if key in spec}
    child.setdefault("id", "remote")
    if "args" in child:
        child["args"] = list(child["args"])
    try:
        tree = otp.Tree.from_dict({"children": [child]})  # the host will load it the same way
        json.dumps(child)
    except (otp.TreeError, TypeError, ValueError) as error:
        raise _fail(str(error)) from None
    limit = tree.children[0].shutdown
    stop = float(limit) if isinstance(limit, int | float) and limit != float("inf") else 30.0
    return _Declared(
        child,
        node,
        role,
        global_name,
        _seconds(spec, "start_timeout", 5.0),
        _seconds(spec, "placement_timeout", 5.0),
        stop + _STOP_MARGIN,
    )


def remote_child_spec(
    id: str,  # noqa: A002  (the child spec's own word)
    start: str,
    args: tuple[object, ...] = (),
    *,
    node: str | None = None,
    role: str | None = None,
    name: str | None = None,
    global_name: str | None = None,
    restart: Restart = "permanent",
    shutdown: float | None = None,
    start_timeout: float = 5.0,
    placement_timeout: float = 5.0,
) -> otp.ChildSpec:
    """A child spec for a child that runs on another node, supervised from here.

    ``start`` is an import path (``"package.module:function"`` or a GenServer class) that
    both this node and the hosts can import; ``args`` must be JSON-able. The child is placed
    on ``node`` while it is up, else on any up node with ``role`` (the least loaded by this
    node's children); ``placement_timeout`` is how long a start waits for such a node to be
    heard of. With ``name`` the host registers the server locally; with ``global_name`` it
    also holds that cluster-wide name (:meth:`Node.global_ref` calls it). The supervisor
    must run inside :func:`open_node`'s block.

    Raises:
        DistDeclarationError: A bad declaration, at once (here, not at the first start).

    Example::

        children = [
            otp.dist.remote_child_spec(
                "cache", "shop.cache:Cache", node="b", role="cache",
                name="cache", global_name="cache",
            )
        ]
        async with otp.dist.open_node(url, "a"), otp.open_supervisor(children):
            ...
    """
    given = {
        "node": node,
        "role": role,
        "name": name,
        "global_name": global_name,
        "shutdown": shutdown,
    }
    spec: dict[str, Any] = {"id": id, "start": start, "args": list(args)}
    spec |= {key: value for key, value in given.items() if value is not None}
    spec["start_timeout"], spec["placement_timeout"] = start_timeout, placement_timeout
    declared = declare(spec)
    return otp.ChildSpec(id, remote_child, (spec,), restart=restart, shutdown=declared.stop_timeout)


async def remote_child(
    spec: Mapping[str, Any], *, task_status: trio.TaskStatus[RemoteChild] = trio.TASK_STATUS_IGNORED
) -> None:
    """Run the child ``spec`` declares on another node, until it ends there (the proxy).

    The start of a child spec made by :func:`remote_child_spec`; in a tree file, a child
    with ``start = "otp.dist:remote_child"`` and the declaration as its one argument.

    Example (a tree file)::

        [[children]]
        id = "cache"
        start = "otp.dist:remote_child"
        args = [{start = "shop.cache:Cache", name = "cache", role = "cache"}]
    """
    declared = declare(spec)
    node = current_node()
    target = await node._place(declared.node, declared.role, declared.placement_timeout)
    instance = secrets.token_hex(8)
    waiter = node._expect_exit(instance, target)
    sent = False
    try:
        body = {
            "instance": instance,
            "owner": node.name,
            "owner_id": node.id,
            "child": declared.child,
            "global_name": declared.global_name,
        }
        sent = True
        node_id = await _ask_start(node, target, body, declared.start_timeout)
        task_status.started(RemoteChild(instance, target, node_id))
        await waiter.done.wait()
    except BaseException:
        if sent and not waiter.done.is_set():
            with trio.CancelScope(shield=True):
                await node._stop_remote(target, instance, declared.stop_timeout, "stopped")
        raise
    finally:
        node._forget_exit(instance)
    waiter.raise_outcome()


async def _ask_start(node: Node, target: str, body: dict[str, Any], timeout: float) -> str:  # noqa: ASYNC109
    what = f"{body['child']['start']!r} on node {target!r}"
    try:
        reply = await node.connection.request(
            node._host.control_subject(target, "start"),
            json.dumps(body).encode(),
            timeout=timeout,
        )
    except NoResponders:
        msg = f"could not start {what}: the node is not in the cluster any more"
        raise NodeDown(msg, target) from None
    except RequestTimeout:
        msg = f"could not start {what}: no answer within {timeout:g} s"
        raise RemoteChildFailed(msg, target, "start") from None
    except ConnectionClosed as error:
        msg = f"could not start {what}: {error}"
        raise RemoteChildFailed(msg, target, "start") from None
    envelope = json.loads(reply.payload)
    if "error" in envelope:
        problem = envelope["error"]
        msg = f"could not start {what}: {problem.get('type')}: {problem.get('message')}"
        raise RemoteChildFailed(msg, target, "start")
    return str(envelope["ok"]["node"])
