"""The importer's one user error: a module linkc cannot express as a spec, or cannot
load. Its own module so every step can raise it without importing another step."""

from __future__ import annotations

from ..errors import UserError

__all__ = ["NotImportable"]


class NotImportable(UserError):
    """A module linkc cannot express as a spec (or cannot load): exit 2, with where and why."""
