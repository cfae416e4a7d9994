"""Every cap linkc puts on an untrusted spec, in one place, and how to raise them.

A spec may come from anywhere (a paper, a colleague, a search), so loading,
expansion and shape inference each refuse work beyond a cap before anything is
allocated: `LoadLimits` (file size, YAML nesting, alias expansion),
`ExpandLimits` (nodes and node inputs after expansion, repeat counts, block nesting) and
`ShapeLimits` (channels, spatial size, one activation, total activations,
parameters). `Limits` bundles the three; each field has a unique name, so users
raise one by name: `linkc check --limit max_params=500000000`, or in Python
`build(spec, limits=Limits().with_(max_params=500_000_000))`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .errors import SpecError, did_you_mean
from .expand.expander import ExpandLimits
from .shapes.limits import ShapeLimits
from .spec.load import LoadLimits


@dataclass(frozen=True)
class Limits:
    load: LoadLimits = LoadLimits()
    expand: ExpandLimits = ExpandLimits()
    shape: ShapeLimits = ShapeLimits()

    def values(self) -> dict[str, int]:
        """Every limit by name, e.g. {'max_bytes': 1048576, ...}."""
        return {f.name: getattr(part, f.name) for part in (self.load, self.expand, self.shape)
                for f in fields(part)}

    def with_(self, **values: int) -> "Limits":
        """A copy with the named limits changed (names as in `values()`)."""
        parts = {"load": self.load, "expand": self.expand, "shape": self.shape}
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"limit {name} must be a positive integer, got {value!r}")
            owner = next((k for k, part in parts.items()
                          if name in {f.name for f in fields(part)}), None)
            if owner is None:
                raise SpecError(f"unknown limit '{name}'",
                                hint=did_you_mean(name, self.values()) or
                                "limits: " + ", ".join(self.values()))
            parts[owner] = replace(parts[owner], **{name: value})
        return Limits(**parts)

    def parse(self, items: list[str]) -> "Limits":
        """`['max_nodes=200000', 'max_params=1e9']` (the CLI's --limit) -> a copy."""
        values: dict[str, int] = {}
        for item in items:
            name, sep, text = item.partition("=")
            try:
                number = float(text.replace("_", ""))
                if not sep or not number.is_integer():
                    raise ValueError
            except ValueError:
                raise SpecError(f"--limit expects NAME=INTEGER, got '{item}'",
                                hint="for example --limit max_nodes=200000") from None
            values[name.strip()] = int(number)
        return self.with_(**values)


DEFAULT_LIMITS = Limits()
