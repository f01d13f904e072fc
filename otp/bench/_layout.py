"""The shape of the tree under test: its paths, its servers, its supervisors' names.

The benchmark needs three views of one list of child specs: the fault injector's paths
(``"services/svc-0"``, ``"sessions/session"``), what the workload can call (named servers,
and the servers of dynamic supervisors), and which supervisor reports each child's events
(``"bench/services"`` reports ``svc-0``). :func:`layout_of` walks the specs once for all three.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Literal

import attrs

import otp
from otp._dynamic import NestedDynamicSupervisor
from otp._server import GenServer, ServerStart
from otp._supervisor import NestedSupervisor

from ._errors import UsageError

__all__ = ["BenchTree", "Layout", "PathInfo", "Pool", "layout_of", "load_tree_file"]

PathKind = Literal["server", "worker", "supervisor"]


@attrs.frozen
class BenchTree:
    """A tree to run: the root supervisor's flags and its children, plus a label for reports."""

    children: tuple[otp.ChildSpec, ...]
    name: str
    strategy: otp.Strategy = otp.Strategy.ONE_FOR_ONE
    intensity: int = 3
    period: float = 5.0
    backoff: otp.Backoff | None = None
    auto_shutdown: otp.AutoShutdown = otp.AutoShutdown.NEVER
    label: str = "tree"


@attrs.frozen
class PathInfo:
    """One child of the tree, by its injector path.

    ``supervisor`` and ``child_id`` are what that child's events carry; ``server_name`` is
    the name a server registers (``None``: unnamed); ``template`` marks the template of a
    dynamic supervisor (its path stands for all the children made from it).
    """

    path: str
    kind: PathKind
    supervisor: str
    child_id: Hashable
    server_name: Hashable | None = None
    liveness: bool = False
    under_root: bool = True
    template: bool = False


@attrs.frozen
class Pool:
    """A dynamic supervisor whose template is a server: the workload opens sessions in it."""

    path: str
    name: str
    template_path: str


@attrs.frozen
class Layout:
    """Every path of a tree in depth-first start order, its supervisors and its pools."""

    root: str
    paths: tuple[PathInfo, ...]
    supervisors: tuple[str, ...]
    pools: tuple[Pool, ...]

    def info(self, path: str) -> PathInfo | None:
        """The child at ``path``, if there is one."""
        for info in self.paths:
            if info.path == path:
                return info
        return None

    def fault_targets(self) -> list[PathInfo]:
        """The servers and workers: what faults are injected into."""
        return [info for info in self.paths if info.kind != "supervisor"]

    def named_servers(self) -> list[PathInfo]:
        """The servers the workload calls by name."""
        return [
            info
            for info in self.paths
            if info.kind == "server" and info.server_name is not None and not info.template
        ]


def _server_class(start: object) -> type[GenServer[object, object]] | None:
    if isinstance(start, ServerStart):
        return start.server
    if isinstance(start, type) and issubclass(start, GenServer):
        return start
    return None


def layout_of(tree: BenchTree) -> Layout:
    """Walk ``tree`` once: paths as the injector names them, supervisors as they report.

    Example::

        layout = layout_of(default_tree())
        assert layout.info("services/svc-0").supervisor == "bench/services"
    """
    paths: list[PathInfo] = []
    supervisors: list[str] = [tree.name]
    pools: list[Pool] = []

    def child(spec: otp.ChildSpec, path: str, parent: str, *, under_root: bool) -> None:
        start = spec.start
        if isinstance(start, NestedSupervisor):
            name = start.name if start.name is not None else f"{parent}/{spec.id}"
            paths.append(PathInfo(path, "supervisor", parent, spec.id, under_root=under_root))
            supervisors.append(name)
            for inner in start.children:
                child(inner, f"{path}/{inner.id}", name, under_root=False)
            return
        if isinstance(start, NestedDynamicSupervisor):
            name = start.name if start.name is not None else f"{parent}/{spec.id}"
            paths.append(PathInfo(path, "supervisor", parent, spec.id, under_root=under_root))
            supervisors.append(name)
            template = start.template
            template_path = f"{path}/{template.id}"
            if isinstance(template.start, NestedSupervisor | NestedDynamicSupervisor):
                # A pool of supervisors: its children have no path of their own (they are
                # made at run time), and a fault on the template hits a whole subtree.
                paths.append(
                    PathInfo(template_path, "supervisor", name, template.id, under_root=False)
                )
                return
            server = _server_class(template.start)
            paths.append(
                PathInfo(
                    template_path,
                    "server" if server is not None else "worker",
                    name,
                    template.id,
                    liveness=template.liveness is not None,
                    under_root=False,
                    template=True,
                )
            )
            if server is not None:
                pools.append(Pool(path, name, template_path))
            return
        server = _server_class(start)
        paths.append(
            PathInfo(
                path,
                "server" if server is not None else "worker",
                parent,
                spec.id,
                server_name=start.name if isinstance(start, ServerStart) else None,
                liveness=spec.liveness is not None,
                under_root=under_root,
            )
        )

    for spec in tree.children:
        child(spec, str(spec.id), tree.name, under_root=True)
    return Layout(tree.name, tuple(paths), tuple(supervisors), tuple(pools))


def load_tree_file(path: Path) -> BenchTree:
    """Load a ``--tree`` file with :func:`otp.load_tree` (TOML or JSON, by suffix).

    Raises:
        UsageError: The file cannot be read, or the loader found problems in it (each
            problem is one line of the message, with the path of its key).
    """
    try:
        tree = otp.load_tree(path)
    except otp.TreeError as exc:
        raise UsageError(f"--tree: {exc}") from None
    except OSError as exc:
        raise UsageError(f"--tree: cannot read {path}: {exc.strerror or exc}") from None
    return BenchTree(
        children=tuple(tree.children),
        name=tree.name if tree.name is not None else "root",
        strategy=tree.strategy,
        intensity=tree.intensity,
        period=tree.period,
        backoff=tree.backoff,
        auto_shutdown=tree.auto_shutdown,
        label=str(path),
    )
