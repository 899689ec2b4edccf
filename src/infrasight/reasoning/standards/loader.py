"""Load and validate condition standards from TOML data files.

Every ``*.toml`` file in this package folder (and in any extra folder given) is one standard.
A file names its ``method``, one of the rating engines in :data:`~.engines.METHODS`; adding a
standard that uses an existing method is adding a data file.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from infrasight.reasoning.errors import DefinitionError, UnknownStandardError

__all__ = ["Standard", "StandardRegistry", "load_standards"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Standard:
    """One loaded standard: its identity and its validated data."""

    id: str
    name: str
    method: str
    citation: str
    data: Mapping[str, Any]
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StandardRegistry:
    """The standards known to this process, by id."""

    standards: Mapping[str, Standard]

    def get(self, standard_id: str) -> Standard:
        """The standard with that id; :class:`UnknownStandardError` otherwise."""
        try:
            return self.standards[standard_id]
        except KeyError:
            raise UnknownStandardError(standard_id, list(self.standards)) from None

    @property
    def ids(self) -> tuple[str, ...]:
        """Sorted standard ids."""
        return tuple(sorted(self.standards))


def _parse(text: str, source: str) -> Standard:
    from infrasight.reasoning.standards.engines import METHODS

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DefinitionError(f"{source}: not valid TOML: {err}") from err
    for key in ("id", "name", "method", "citation"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise DefinitionError(f"{source}: missing string field {key!r}")
    method = data["method"]
    if method not in METHODS:
        raise DefinitionError(f"{source}: unknown method {method!r}; known: {sorted(METHODS)}")
    METHODS[method].validate(data, source)
    return Standard(
        id=data["id"],
        name=data["name"],
        method=method,
        citation=data["citation"],
        data=data,
        source=source,
    )


def load_standards(extra_dirs: Iterable[Path] = ()) -> StandardRegistry:
    """Load the packaged standards plus every ``*.toml`` in ``extra_dirs``.

    Raises
    ------
    DefinitionError
        A file is malformed or two files share an id.
    """
    found: dict[str, Standard] = {}
    texts: list[tuple[str, str]] = []
    pkg = resources.files("infrasight.reasoning.standards")
    for entry in sorted(pkg.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            texts.append((entry.read_text(encoding="utf-8"), f"package:{entry.name}"))
    for folder in extra_dirs:
        for path in sorted(Path(folder).glob("*.toml")):
            texts.append((path.read_text(encoding="utf-8"), str(path)))
    for text, source in texts:
        std = _parse(text, source)
        if std.id in found:
            raise DefinitionError(f"{source}: duplicate standard id {std.id!r}")
        found[std.id] = std
        _log.debug("loaded standard %s from %s", std.id, source)
    return StandardRegistry(standards=found)
