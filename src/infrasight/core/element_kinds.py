"""Names people read for element kinds (``core/element_kinds.toml``); the code stays the code."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from importlib import resources

__all__ = ["element_kind_name", "element_kind_names"]


@functools.cache
def element_kind_names() -> Mapping[str, str]:
    """Kind code -> English name, from the packaged data file."""
    text = resources.files("infrasight.core").joinpath("element_kinds.toml").read_text("utf-8")
    kinds = tomllib.loads(text)["kinds"]
    return {str(code): str(name) for code, name in kinds.items()}


def element_kind_name(kind: str) -> str:
    """The English name of an element ``kind`` (``lining_ring`` -> ``Lining ring``), to be
    translated from the ``catalogue`` domain; a kind without a name is shown as its code."""
    return element_kind_names().get(kind, kind)
