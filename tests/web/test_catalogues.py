"""The message catalogues cover every string the pages mark, in every locale."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

import infrasight.web
from infrasight.web.i18n import LOCALES, catalogue, translator

WEB = Path(infrasight.web.__file__).parent


def _marked() -> set[str]:
    found = extract_from_dir(str(WEB), keywords={"t": None, "N_": None})
    return {str(message) for _file, _line, message, _comments, _context in found}


def test_pages_mark_their_strings() -> None:
    marked = _marked()
    assert {"Log in", "Overview", "Acknowledge", "Max. width", "bridge"} <= marked


@pytest.mark.parametrize("locale", list(LOCALES))
def test_every_marked_string_is_translated(locale: str) -> None:
    missing = sorted(_marked() - set(catalogue(locale)))
    assert missing == [], f"{locale} lacks: {missing}"


def test_translations_keep_placeholders() -> None:
    for locale in LOCALES:
        t = translator(locale)
        for message in _marked():
            names = {part.split("}")[0] for part in message.split("{")[1:]}
            values = dict.fromkeys(names, "X")
            assert t(message, **values).count("X") == len(names), (locale, message)


def test_dates_and_numbers_follow_the_locale() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert translator("en").datetime(when) == "4 Mar 2026, 05:06:07"
    assert translator("zh-Hant").datetime(when) == "2026年3月4日 上午5:06:07"
    assert translator("zh-Hans").datetime(when) == "2026年3月4日 05:06:07"
    assert translator("en").number(12345.678) == "12,345.68"
    assert translator("zh-Hans").number(0.5, 0) == "0"  # half to even, as Babel rounds
    assert translator("xx").locale == "en"


def test_a_missing_message_is_recorded_and_shown_in_english() -> None:
    t = translator("zh-Hant")
    assert t("No such message {n}", n=3) == "No such message 3"
    assert t.missing == {"No such message {n}"}
