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
    """A plugin's fault (it failed to load, or an entry it registered is wrong); the
    message names its distribution and entry point and the way out."""

    def used_at(self, loc, node_id: str) -> PluginError:
        """This error with the place in the spec whose use of the entry met the fault,
        so the user also sees which line to change (or which input shape to avoid)."""
        if loc is None:
            return self
        excerpt = loc.excerpt()
        return type(self)(f"{self}\n  used by node '{node_id}' at {loc}"
                          + (f"\n{excerpt}" if excerpt else ""))


class RegistrationError(PluginError, ValueError):
    """A declaration refused at registration: a ValueError too, to the code that registers
    directly (a plugin's is reported as its load failure)."""


_loaded = False
_failure: PluginError | None = None
_current: Origin | None = None  # the plugin being imported, while it registers
PLUGINS: list[Origin] = []  # the plugins loaded, in load order
_ENTRY_POINTS: dict[Origin, str] = {}  # origin -> "NAME = MODULE", for messages


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
            load_one(ep)
        except PluginError as exc:
            _failure = exc
            raise


def load_one(ep: metadata.EntryPoint) -> None:
    """Import one plugin's entry point, recording its origin (the tests load a plugin into
    their own process with it)."""
    dist = ep.dist.name if ep.dist is not None else "an unnamed distribution"
    origin = Origin(dist, _packages(ep))
    _ENTRY_POINTS[origin] = f"{ep.name} = {ep.value}"
    if ep.attr:
        raise PluginError(f"{describe(origin)}: the entry point must name a module, whose "
                          f"import registers the plugin's ops; {way_out(origin)}")
    try:
        with _registering(origin):
            importlib.import_module(ep.module)
    except RegistrationError:  # already names the plugin, its entry point and the way out
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of foreign code is the plugin's
        raise PluginError(f"{describe(origin)} failed to load: {type(exc).__name__}: {exc}"
                          f"\n  {way_out(origin)}") from exc
    PLUGINS.append(origin)


def describe(origin: Origin) -> str:
    """Who registered an entry, for the first words of an error: the plugin's distribution
    and entry point, or the module that registered it directly."""
    entry = _ENTRY_POINTS.get(origin)
    if entry is None:
        return f"linkc: {origin.name}"
    return f"linkc: plugin '{origin.name}' (entry point {entry} in group {GROUP})"


def way_out(origin: Origin) -> str:
    """What a user can do about a faulty plugin (or directly registered entry)."""
    if origin not in _ENTRY_POINTS:
        return f"fix the registration in {origin.name}"
    return (f"fix or uninstall it (pip uninstall {origin.name}), or run linkc with "
            f"--no-plugins ({ENV_OFF}=1)")


def blame(origin: Origin, entry: str, problem: str,
          error: type[PluginError] = PluginError) -> PluginError:
    """The error for a fault of one registered entry (`entry` is "op 'NAME'" or
    "merge 'NAME'"): who registered it, what is wrong, and the way out."""
    return error(f"{describe(origin)}: {entry}: {problem}\n  {way_out(origin)}")


def origin_of_module(module: str) -> Origin | None:
    """The origin whose packages hold `module` (a dotted name), None for torch and linkc's
    own modules and for code no registered entry lowers into."""
    top = module.split(".")[0]
    for registry in (OPS, MERGES):
        for origin in registry.origins.values():
            if origin != BUILTIN and top in origin.packages:
                return origin
    return None


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
