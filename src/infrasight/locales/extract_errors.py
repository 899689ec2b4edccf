"""Rebuild the ``errors`` domain from the messages InfraSight raises.

``python -m infrasight.locales.extract_errors`` reads ``locales/error_sources.toml`` (which
modules raise errors a person reads, and extra messages written elsewhere), finds every call of
an exception class (a name ending in ``Error`` or ``Exception``, or the CLI's ``bad_input``)
whose message is a string or an f-string, turns the message into a template
(:mod:`infrasight.locales.errors`), writes ``locales/errors.pot`` and updates each locale's
``errors.po``: translations of unchanged templates are kept, new ones get an empty msgstr,
templates no longer raised are dropped.
``--check`` writes nothing and exits 1 when the files are out of date.

A placeholder is named after the interpolated expression (``{asset.id}`` -> ``{id}``,
``{len(names)}`` -> ``{len_names}``); a name used twice for different expressions is numbered.
"""

from __future__ import annotations

import argparse
import ast
import logging
import re
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from infrasight.locales import LOCALES
from infrasight.locales.errors import ERRORS_DOMAIN
from infrasight.locales.extract import _po

__all__ = [
    "error_templates",
    "main",
    "render_catalogues",
    "render_domain",
    "templates_in",
    "write_domain",
]

_LOGGER = logging.getLogger(__name__)
_HERE = Path(__file__).parent
_PACKAGE = _HERE.parent
_HEADER = (
    '# Error messages (domain "errors"), as templates of the messages raised, from\n'
    "# locales/error_sources.toml. Rebuilt by `python -m infrasight.locales.extract_errors`;\n"
    "# translate the empty entries (placeholders are filled with the message's own values)."
)
#: An exception's class, Click's ``BadParameter``, or the CLI's ``bad_input`` (which prints its
#: message as an error).
_RAISES = re.compile(r"(Error|Exception)$|^(bad_input|BadParameter)$")
_MESSAGE_KEYWORDS = ("message", "detail")
_LETTERS = re.compile(r"[A-Za-z]{2,}")


def _name(expression: ast.expr) -> str:
    """A placeholder name for an interpolated expression."""
    if isinstance(expression, ast.Name):
        return expression.id
    if isinstance(expression, ast.Attribute):
        return expression.attr
    if isinstance(expression, ast.Subscript):
        return _name(expression.value)
    if isinstance(expression, ast.Call):
        inner = [_name(a) for a in expression.args[:1]]
        return "_".join([_name(expression.func), *inner])
    return "value"


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _template(node: ast.expr) -> str | None:
    """The template of a message expression, or None when it is not a (f-)string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _escape(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        return left + right if left is not None and right is not None else None
    if not isinstance(node, ast.JoinedStr):
        return None
    parts: list[str] = []
    names: dict[str, str] = {}
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(_escape(str(value.value)))
            continue
        assert isinstance(value, ast.FormattedValue)
        source = ast.unparse(value.value)
        name = re.sub(r"\W+", "_", _name(value.value)).strip("_") or "value"
        base, number = name, 2
        while name in names and names[name] != source:
            name, number = f"{base}{number}", number + 1
        names[name] = source
        conversion = f"!{chr(value.conversion)}" if value.conversion > 0 else ""
        spec = ""
        if isinstance(value.format_spec, ast.JoinedStr):
            spec_parts = value.format_spec.values
            if all(isinstance(p, ast.Constant) for p in spec_parts):
                spec = ":" + "".join(str(p.value) for p in spec_parts)  # type: ignore[attr-defined]
        parts.append(f"{{{name}{conversion}{spec}}}")
    return "".join(parts)


def _messages(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if not _RAISES.search(called):
            continue
        candidates = list(node.args[:1]) + [
            k.value for k in node.keywords if k.arg in _MESSAGE_KEYWORDS
        ]
        for candidate in candidates:
            template = _template(candidate)
            if template and _LETTERS.search(re.sub(r"\{[^{}]*\}", "", template)):
                yield template


def templates_in(path: Path) -> tuple[str, ...]:
    """The error templates the module at ``path`` raises, in order of appearance."""
    return tuple(dict.fromkeys(_messages(ast.parse(path.read_text("utf-8")))))


def error_templates(package: Path = _PACKAGE) -> tuple[str, ...]:
    """Every error template of the modules ``locales/error_sources.toml`` names, and its extra
    messages, in order of first appearance."""
    with (package / "locales" / "error_sources.toml").open("rb") as handle:
        sources = tomllib.load(handle)
    found: dict[str, None] = {}
    for pattern in sources["files"]:
        for path in sorted(package.glob(pattern)):
            for template in _messages(ast.parse(path.read_text("utf-8"))):
                found.setdefault(template, None)
    for template in sources.get("extra", []):
        found.setdefault(template, None)
    return tuple(found)


def _catalogue(domain: str, msgids: Sequence[str], header: str, locale: str | None) -> Catalog:
    catalog = Catalog(
        locale=Locale.parse(LOCALES[locale][1]) if locale else None,
        domain=domain,
        header_comment=header,
        project="InfraSight",
        version="1",
        fuzzy=False,
    )
    for msgid in msgids:
        added = catalog.add(msgid, "")
        added.flags.discard("python-format")
        if "{" in msgid:
            added.flags.add("python-brace-format")
    return catalog


def render_domain(
    domain: str, msgids: Sequence[str], header: str, package: Path = _PACKAGE
) -> dict[Path, str]:
    """The new ``<domain>.pot`` and each locale's ``<domain>.po`` (path -> contents): the
    translations of unchanged msgids kept, new ones empty, vanished ones dropped."""
    root = package / "locales"
    files = {root / f"{domain}.pot": _po(_catalogue(domain, msgids, header, None))}
    for locale, (folder, babel_locale) in LOCALES.items():
        path = root / folder / "LC_MESSAGES" / f"{domain}.po"
        old: Catalog | None = None
        if path.is_file():
            with path.open("rb") as handle:
                old = read_po(handle, locale=Locale.parse(babel_locale))
        catalog = _catalogue(domain, msgids, header, locale)
        for message in catalog:
            previous = old.get(message.id) if old is not None and message.id else None
            if previous is not None and previous.string:
                message.string = previous.string
        files[path] = _po(catalog)
    return files


def render_catalogues(package: Path = _PACKAGE) -> dict[Path, str]:
    """The new ``errors.pot`` and each locale's ``errors.po`` (path -> contents)."""
    return render_domain(ERRORS_DOMAIN, error_templates(package), _HEADER, package)


def write_domain(domain: str, msgids: Sequence[str], header: str, *, check: bool) -> int:
    """Write ``domain``'s catalogues (see :func:`render_domain`); with ``check`` write nothing
    and return 1 when they are stale."""
    stale = []
    for path, text in render_domain(domain, msgids, header).items():
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            stale.append(path)
            if not check:
                path.write_text(text, encoding="utf-8")
    for path in stale:
        _LOGGER.info("%s %s", "out of date:" if check else "wrote", path)
    return 1 if stale and check else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Write the catalogues (or with ``--check`` report whether they are up to date)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    return write_domain(ERRORS_DOMAIN, error_templates(), _HEADER, check=args.check)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    raise SystemExit(main())
