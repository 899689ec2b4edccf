"""The fonts Chinese pages are drawn with, served by the app itself (nothing downloaded).

Latin text uses Roboto, which NiceGUI serves. For Chinese the pages use the same subsets of Noto
Sans CJK that the PDF reports embed (``infrasight/reports/fonts``, SIL OFL 1.1): Hong Kong forms
for zh-Hant, mainland forms for zh-Hans. They hold every character of the message catalogues, so
no translated text falls back to whatever a phone or site PC happens to have. A browser fetches
the font only on a Chinese page and keeps it (the URL names the file's content).
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from pathlib import Path

from nicegui import app

__all__ = ["FONT_FAMILIES", "font_css", "register_fonts"]

#: Locale -> (font file of ``infrasight/reports/fonts``, its family name).
FONT_FAMILIES = {
    "zh-Hant": ("InfraSightCJK-HK.otf", "InfraSight CJK HK"),
    "zh-Hans": ("InfraSightCJK-SC.otf", "InfraSight CJK SC"),
}
_YEAR_S = 365 * 24 * 3600


def _file(name: str) -> Path:
    return Path(str(resources.files("infrasight") / "reports" / "fonts" / name))


@cache
def _url(name: str) -> str:
    digest = hashlib.sha256(_file(name).read_bytes()).hexdigest()[:16]
    return f"/web/fonts/{digest}/{name}"


def register_fonts() -> None:
    """Serve the fonts at content-addressed URLs, cacheable for a year."""
    for name, _family in FONT_FAMILIES.values():
        app.add_static_file(local_file=_file(name), url_path=_url(name), max_cache_age=_YEAR_S)


def font_css(locale: str) -> str:
    """The style that draws a page in ``locale`` with the shipped fonts ("" for English)."""
    if locale not in FONT_FAMILIES:
        return ""
    name, family = FONT_FAMILIES[locale]
    return (
        f'@font-face {{ font-family: "{family}"; src: url("{_url(name)}") format("opentype"); '
        "font-display: block; }\n"
        "body, .q-field, .q-btn, .q-item, .q-tree, input, textarea, svg text "
        f'{{ font-family: Roboto, "{family}" !important; }}'
    )
