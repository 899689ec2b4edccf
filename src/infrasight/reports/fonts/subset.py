"""Rebuild the bundled CJK font subsets from Debian's ``fonts-noto-cjk`` (maintainers only).

The report renderer ships two small subsets of Noto Sans CJK (SIL Open Font License 1.1, see
``OFL.txt`` beside this file) so that a fresh install renders Chinese without any download:

* ``InfraSightCJK-SC.otf``: Noto Sans CJK SC, GB 2312 level-1 hanzi (3,755 most common);
* ``InfraSightCJK-HK.otf``: Noto Sans CJK HK, Big5 level-1 hanzi (5,401 most common);

each with ASCII, Latin-1, general and CJK punctuation, full-width forms and every character of
the report catalogues. Where Debian's full ``fonts-noto-cjk`` is installed the renderer uses it
first (every character, bold); the subsets are the fallback. Run after changing a catalogue::

    apt-get install fonts-noto-cjk && pip install fonttools
    python -m infrasight.reports.fonts.subset

The subsets are renamed (family "InfraSight CJK SC/HK"), as the OFL asks of modified versions.
"""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["SOURCE", "build"]

_LOGGER = logging.getLogger(__name__)
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
_HERE = Path(__file__).parent
_INDEX = {"SC": 2, "HK": 4}  # faces of the collection


def _decode_range(codec: str, highs: range, lows: list[int]) -> set[str]:
    chars = set()
    for hi in highs:
        for lo in lows:
            try:
                chars.add(bytes([hi, lo]).decode(codec))
            except UnicodeDecodeError:
                continue
    return chars


def _hanzi(face: str) -> set[str]:
    if face == "SC":  # GB 2312 symbols (rows 1-9) and level-1 hanzi (rows 16-55)
        return _decode_range("gb2312", range(0xA1, 0xD8), list(range(0xA1, 0xFF)))
    # Big5 symbols and level-1 hanzi (0xA140-0xC67E)
    return _decode_range("big5", range(0xA1, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)])


def _catalogue_text() -> set[str]:
    chars: set[str] = set()
    for po in (_HERE.parent.parent / "locales").glob("*/LC_MESSAGES/*.po"):
        chars |= set(po.read_text(encoding="utf-8"))
    return chars


def _base() -> set[str]:
    ranges = [(0x20, 0x7F), (0xA0, 0x180), (0x2000, 0x206F), (0x2190, 0x21FF), (0x2200, 0x22FF)]
    ranges += [(0x3000, 0x3040), (0xFF00, 0xFFF0)]
    return {chr(c) for lo, hi in ranges for c in range(lo, hi)}


def build(source: Path = SOURCE, out_dir: Path = _HERE) -> list[Path]:
    """Write the two subsets into ``out_dir``; return their paths."""
    from fontTools import subset

    written = []
    for face, index in _INDEX.items():
        options = subset.Options()
        options.font_number = index
        options.hinting = False
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        options.notdef_outline = True
        font = subset.load_font(str(source), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(text="".join(sorted(_base() | _hanzi(face) | _catalogue_text())))
        subsetter.subset(font)
        family = f"InfraSight CJK {face}"
        names = font["name"]
        for record in list(names.names):
            if record.nameID in (1, 16):
                record.string = family
            elif record.nameID in (3, 4):
                record.string = f"{family} Regular"
            elif record.nameID == 6:
                record.string = f"InfraSightCJK-{face}-Regular"
        if "CFF " in font:
            font["CFF "].cff.fontNames = [f"InfraSightCJK-{face}-Regular"]
        path = out_dir / f"InfraSightCJK-{face}.otf"
        subset.save_font(font, str(path), options)
        _LOGGER.info("wrote %s (%d bytes)", path, path.stat().st_size)
        written.append(path)
    return written


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    build()
