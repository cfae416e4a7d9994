"""Loading installed plugins: the entry-point group `linkc.plugins`.

A plugin is an installed distribution with an entry point such as

    [project.entry-points."linkc.plugins"]
    example = "linkc_example.register"

naming a module whose import registers ops and merges through `linkc.extend`.
`load()` imports every such module once per process; the CLI calls it for every
command and `linkc.build` calls it too, so a spec sees the same ops from Python
and from the command line. `--no-plugins` or `LINKC_NO_PLUGINS=1` turns it off
(the CLI flag sets the variable, so processes it starts, such as torchrun workers,
follow). A spec never imports code: it can only name ops that installed plugins
registered.

Nothing here imports torch; a plugin's registration module should not either
(its lowering targets name the modules that do, imported only when lowering).
"""

from __future__ import annotations

from ..errors import UserError

import importlib
import os
from contextlib import contextmanager
from importlib import metadata
from typing import Iterator

from .merges import MERGES
from .registry import BUILTIN, OPS, PLUGINS_OFF_ENV, Origin, plugins_disabled

GROUP = "linkc.plugins"
ENV_OFF = PLUGINS_OFF_ENV


class PluginError(UserError):
    """An installed plugin failed to load; the message names its distribution."""


_loaded = False
_failure: PluginError | None = None
_current: Origin | None = None  # the plugin being imported, while it registers
PLUGINS: list[Origin] = []  # the plugins loaded, in load order


disabled = plugins_disabled


@contextmanager
def turned_off(off: bool = True) -> Iterator[None]:
    """Plugin loading off (when `off`) for this block and the processes it starts."""
    previous = os.environ.get(ENV_OFF)
    if off:
        os.environ[ENV_OFF] = "1"
    try:
        yield
    finally:
        if off and previous is None:
            del os.environ[ENV_OFF]
        elif off:
            os.environ[ENV_OFF] = previous


def current_origin() -> Origin | None:
    """The plugin whose registration module is being imported, else None."""
    return _current


def load() -> None:
    """Import every installed plugin once (unless disabled). A plugin that fails is a
    PluginError, raised again on every later call: a half-registered plugin is never
    silently used."""
    global _loaded, _failure
    if _failure is not None:
        raise _failure
    if _loaded or disabled():
        return
    _loaded = True
    for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        try:
            _load_one(ep)
        except PluginError as exc:
            _failure = exc
            raise


def _load_one(ep: metadata.EntryPoint) -> None:
    dist = ep.dist.name if ep.dist is not None else "an unnamed distribution"
    where = f"linkc: plugin '{dist}' (entry point {ep.name} = {ep.value} in group {GROUP})"
    fix = (f"fix or uninstall it (pip uninstall {dist}), or run linkc with --no-plugins "
           f"({ENV_OFF}=1)")
    if ep.attr:
        raise PluginError(f"{where}: the entry point must name a module, whose import "
                          f"registers the plugin's ops; {fix}")
    origin = Origin(dist, _packages(ep))
    try:
        with _registering(origin):
            importlib.import_module(ep.module)
    except Exception as exc:  # noqa: BLE001 - any failure of foreign code is the plugin's
        raise PluginError(f"{where} failed to load: {type(exc).__name__}: {exc}\n  {fix}") \
            from exc
    PLUGINS.append(origin)


@contextmanager
def _registering(origin: Origin) -> Iterator[None]:
    global _current
    previous, _current = _current, origin
    try:
        yield
    finally:
        _current = previous


def _packages(ep: metadata.EntryPoint) -> tuple[str, ...]:
    """Top-level packages of the entry point's distribution: where its lowering
    targets may live. The entry point's own package always counts."""
    packages = {ep.module.split(".")[0]}
    dist = ep.dist
    if dist is not None:
        top_level = dist.read_text("top_level.txt")
        if top_level:
            packages.update(line.strip() for line in top_level.splitlines() if line.strip())
        for path in dist.files or ():
            parts = path.parts
            if len(parts) > 1 and parts[1] == "__init__.py" and "." not in parts[0]:
                packages.add(parts[0])
    return tuple(sorted(packages))


def lowering_packages() -> frozenset[str]:
    """Top-level packages any registered entry may lower into: torch, linkc, and the
    packages of every origin that registered an entry."""
    packages = set(BUILTIN.packages)
    for registry in (OPS, MERGES):
        for origin in registry.origins.values():
            packages.update(origin.packages)
    return frozenset(packages)
