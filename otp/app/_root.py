"""What the runner starts: the user's tree as one child spec, and where a start failed."""

from __future__ import annotations

from collections.abc import Hashable

import otp

from ._errors import AppOptionError, got

__all__ = ["RootPlan", "master_name", "plan_root", "start_failure", "switch_name"]


def master_name(app: str) -> str:
    """The name of the runner's top supervisor."""
    return f"{app}.master"


def switch_name(app: str) -> str:
    """The name of the supervisor between the master and the root (it kills on force)."""
    return f"{app}.switch"


class RootPlan:
    """The root's spec (temporary, never restarted, no shutdown limit) and its names.

    ``app`` names the application; ``root`` is the root supervisor's name in reports, the
    first part of every path in the tree.
    """

    __slots__ = ("app", "root", "spec")

    def __init__(self, spec: otp.ChildSpec, app: str, root: str) -> None:
        self.spec = spec
        self.app = app
        self.root = root


def plan_root(root: object, name: object) -> RootPlan:
    """Check ``root`` and build its spec.

    The root's shutdown limit is infinity: the runner keeps the deadline itself, and kills
    through the switch above it.
    """
    if name is not None and not isinstance(name, str):
        msg = f"name must be a string or None (got {got(name)})"
        raise AppOptionError(msg)
    if isinstance(root, list | tuple):
        root = otp.Tree(root)
    if isinstance(root, otp.Tree):
        app = name or root.name or "app"
        tree = otp.Tree(
            root.children,
            strategy=root.strategy,
            intensity=root.intensity,
            period=root.period,
            backoff=root.backoff,
            auto_shutdown=root.auto_shutdown,
            name=app,
        )
        spec = otp.ChildSpec(
            app, tree.run, restart="temporary", shutdown=otp.INFINITY, type="supervisor"
        )
        return RootPlan(spec, app, app)
    if isinstance(root, otp.ChildSpec):
        if root.type is not otp.ChildType.SUPERVISOR:
            msg = (
                f"the root must be a supervisor; child {root.id!r} is a worker: put it in a "
                "list of child specs instead"
            )
            raise AppOptionError(msg)
        # A supervisor spec names itself (supervisor_spec(..., name=...)); otherwise the
        # kernel names it after its place under the switch.
        named = getattr(root.start, "name", None)
        app = name or (named if isinstance(named, str) else str(root.id))
        spec = otp.ChildSpec(
            root.id,
            root.start,
            root.args,
            restart="temporary",
            shutdown=otp.INFINITY,
            type="supervisor",
        )
        shown = named if isinstance(named, str) else f"{switch_name(app)}/{root.id}"
        return RootPlan(spec, app, shown)
    msg = (
        "the root must be a list of otp.ChildSpec, an otp.Tree or a supervisor's ChildSpec "
        f"(got {got(root)})"
    )
    raise AppOptionError(msg)


def start_failure(root: str, error: otp.StartError) -> tuple[str, BaseException]:
    """The failing child's path and its own error, from the chain of start errors.

    A nested supervisor that failed to start did so because one of its children did: each
    level adds its child's id to the path, down to the child that raised.
    """
    parts: list[Hashable] = []
    cause: BaseException = error
    while isinstance(cause, otp.StartError) and cause.__cause__ is not None:
        parts.append(cause.child_id)
        cause = cause.__cause__
    # The first id is the root's own, under the switch: the root's name stands for it.
    path = "/".join([root, *(str(part) for part in parts[1:])])
    return path, cause
