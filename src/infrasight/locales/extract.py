"""Rebuild the ``catalogue`` domain from the data catalogues' texts.

``python -m infrasight.locales.extract`` reads ``locales/sources.toml`` (which files and which
keys are read by people), writes ``locales/catalogue.pot`` and updates each locale's
``catalogue.po``: translations of unchanged texts are kept, new texts get an empty msgstr and
texts no longer in any data file are dropped. ``--check`` writes nothing and exits 1 when the
files are out of date.
"""

from __future__ import annotations

import argparse
import io
import logging
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from infrasight.locales import DATA_DOMAIN, LOCALES

__all__ = ["DataText", "data_texts", "main", "render_catalogues"]

_LOGGER = logging.getLogger(__name__)
_HERE = Path(__file__).parent
_PACKAGE = _HERE.parent
_HEADER = (
    '# Texts of the data catalogues (domain "catalogue"), from locales/sources.toml.\n'
    "# Rebuilt by `python -m infrasight.locales.extract`; translate the empty entries."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DataText:
    """One translatable text of a data file.

    Attributes
    ----------
    text : str
        The English text (the msgid).
    file : str
        Path under the ``infrasight`` package.
    key : str
        Dotted key path in the file (array items numbered).
    """

    text: str
    file: str
    key: str


def _strings(node: object, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}.{index}")
    elif isinstance(node, str):
        yield path, node


def data_texts(package: Path = _PACKAGE) -> tuple[DataText, ...]:
    """Every translatable text of the data files named by ``locales/sources.toml``, in order."""
    with (package / "locales" / "sources.toml").open("rb") as handle:
        sources = tomllib.load(handle)["source"]
    found = []
    for source in sources:
        for path in sorted(package.glob(source["files"])):
            with path.open("rb") as handle:
                data = tomllib.load(handle)
            name = path.relative_to(package).as_posix()
            for key, text in _strings(data):
                if text.strip() and any(fnmatchcase(key, p) for p in source["keys"]):
                    found.append(DataText(text=text, file=name, key=key))
    return tuple(found)


def _catalogue(texts: Sequence[DataText], locale: str | None) -> Catalog:
    catalog = Catalog(
        locale=Locale.parse(LOCALES[locale][1]) if locale else None,
        domain=DATA_DOMAIN,
        header_comment=_HEADER,
        project="InfraSight",
        version="1",
        fuzzy=False,
    )
    for item in texts:
        existing = catalog.get(item.text)
        where = (f"{item.file}:{item.key}", 0)  # no line number
        if existing is None:
            added = catalog.add(item.text, "", locations=[where])
            # data texts are never %-formatted ("10 % in CS3" is not a format string)
            added.flags.discard("python-format")
        else:
            existing.locations.append(where)
    return catalog


def _po(catalog: Catalog) -> str:
    out = io.BytesIO()
    write_po(out, catalog, width=100, omit_header=False, include_previous=False)
    text = out.getvalue().decode("utf-8")
    # Dates and the Babel version change between runs: drop them so the files are reproducible.
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not line.startswith(('"POT-Creation-Date', '"PO-Revision-Date', '"Generated-By'))
    )


def render_catalogues(package: Path = _PACKAGE) -> dict[Path, str]:
    """The new ``catalogue.pot`` and each locale's ``catalogue.po`` (path -> contents)."""
    texts = data_texts(package)
    root = package / "locales"
    files = {root / f"{DATA_DOMAIN}.pot": _po(_catalogue(texts, None))}
    for locale, (folder, babel_locale) in LOCALES.items():
        path = root / folder / "LC_MESSAGES" / f"{DATA_DOMAIN}.po"
        old: Catalog | None = None
        if path.is_file():
            with path.open("rb") as handle:
                old = read_po(handle, locale=Locale.parse(babel_locale))
        catalog = _catalogue(texts, locale)
        for message in catalog:
            if not message.id:
                continue
            previous = old.get(message.id) if old is not None else None
            if previous is not None and previous.string:
                message.string = previous.string
        files[path] = _po(catalog)
    return files


def main(argv: Sequence[str] | None = None) -> int:
    """Write the catalogues (or with ``--check`` report whether they are up to date)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in render_catalogues().items():
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            stale.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    for path in stale:
        _LOGGER.info("%s %s", "out of date:" if args.check else "wrote", path)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    raise SystemExit(main())
