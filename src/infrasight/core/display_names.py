"""Names people read for codes stored as written (element kinds, channel quantities), from
``core/display_names.toml``; the code stays the code in the API and the database."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from importlib import resources

__all__ = ["display_names", "element_kind_name", "quantity_name"]


@functools.cache
def display_names() -> Mapping[str, Mapping[str, str]]:
    """Table (``element_kinds``, ``quantities``) -> code -> English name."""
    text = resources.files("infrasight.core").joinpath("display_names.toml").read_text("utf-8")
    return {
        table: {str(code): str(name) for code, name in names.items()}
        for table, names in tomllib.loads(text).items()
    }


def element_kind_name(kind: str) -> str:
    """The English name of an element ``kind`` (``lining_ring`` -> ``Lining ring``), to be
    translated from the ``catalogue`` domain; a kind without a name is shown as its code."""
    return display_names()["element_kinds"].get(kind, kind)


def quantity_name(quantity: str) -> str:
    """The English name of a channel ``quantity`` (``crack_width`` -> ``Crack width``), to be
    translated from the ``catalogue`` domain; a quantity without a name is shown as its code."""
    return display_names()["quantities"].get(quantity, quantity)
