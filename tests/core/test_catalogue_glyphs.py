"""Every character of every translated message is drawn by the font the product ships for its
locale (pages and reports use the same subset fonts, so a character outside them shows as a
fallback glyph or a blank box)."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fontTools.ttLib import TTFont

import infrasight

PACKAGE = Path(infrasight.__file__).parent
FONT_OF_LOCALE = {"zh_Hans": "InfraSightCJK-SC.otf", "zh_Hant": "InfraSightCJK-HK.otf"}


@pytest.mark.parametrize("locale", sorted(FONT_OF_LOCALE))
def test_every_translated_character_is_in_the_locale_font(locale: str) -> None:
    cmap = TTFont(PACKAGE / "reports" / "fonts" / FONT_OF_LOCALE[locale]).getBestCmap()
    catalogues = sorted((PACKAGE / "locales" / locale / "LC_MESSAGES").glob("*.po"))
    assert len(catalogues) >= 4  # messages, reports, notify, evidence, ...
    missing: dict[str, set[str]] = {}
    for po in catalogues:
        with po.open("rb") as handle:
            catalogue = read_po(handle)
        for message in catalogue:
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for text in strings:
                for char in text or "":
                    if not char.isspace() and ord(char) not in cmap:
                        missing.setdefault(char, set()).add(f"{po.name}: {message.id!r}")
    assert not missing, missing
