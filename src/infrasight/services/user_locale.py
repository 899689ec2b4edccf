"""A user's language: stored on the user, used by the web app, reports and notifications.

``users.locale`` is null until the user picks one; null means the default (English). Reports
requested without a language and e-mail subscriptions to a user's own address created without
one take the user's locale.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError
from infrasight.storage.models import User

__all__ = [
    "DEFAULT_LOCALE",
    "USER_LOCALES",
    "accepted_locale",
    "locale_of",
    "recipient_locale",
    "set_user_locale",
]

_LOGGER = logging.getLogger(__name__)
#: The languages a user may choose (the catalogues InfraSight ships).
USER_LOCALES: tuple[str, ...] = ("en", "zh-Hant", "zh-Hans")
DEFAULT_LOCALE = "en"


def set_user_locale(user: User, locale: str | None) -> bool:
    """Store ``locale`` (None: back to the default) on ``user``; True when it changed.

    Raises
    ------
    InvalidInputError
        ``locale`` is not one of :data:`USER_LOCALES` (field ``locale``).
    """
    if locale is not None and locale not in USER_LOCALES:
        raise InvalidInputError(
            f"unknown locale {locale!r}; one of {', '.join(USER_LOCALES)}", field="locale"
        )
    if user.locale == locale:
        return False
    _LOGGER.info("user %s locale %s -> %s", user.id, user.locale, locale)
    user.locale = locale
    return True


#: Language tags (lower case, a prefix up to a "-") -> the shipped locale they ask for.
_TAGS: tuple[tuple[str, str], ...] = (
    ("zh-hant", "zh-Hant"),
    ("zh-tw", "zh-Hant"),
    ("zh-hk", "zh-Hant"),
    ("zh-mo", "zh-Hant"),
    ("zh-hans", "zh-Hans"),
    ("zh-cn", "zh-Hans"),
    ("zh-sg", "zh-Hans"),
    ("zh", "zh-Hans"),
    ("en", "en"),
)


def accepted_locale(header: str) -> str | None:
    """The shipped locale an ``Accept-Language`` header prefers (highest ``q`` first), or None
    when it names none of them (or is empty or malformed)."""
    ranked: list[tuple[float, int, str]] = []
    for order, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, order, tag.strip().lower().replace("_", "-")))
    for _q, _order, tag in sorted(ranked):
        for prefix, locale in _TAGS:
            if tag == prefix or tag.startswith(prefix + "-"):
                return locale
    return None


def locale_of(session: Session, user_id: int | None) -> str:
    """The user's locale, or the default for no user, no choice or an unknown stored value."""
    if user_id is None:
        return DEFAULT_LOCALE
    stored = session.scalar(select(User.locale).where(User.id == user_id))
    return stored if stored in USER_LOCALES else DEFAULT_LOCALE


def recipient_locale(
    session: Session, organization_id: int, email: str, *, fallback_user_id: int | None = None
) -> str:
    """The locale of the organisation's user with this e-mail address (case-insensitive); when
    no user has the address (or ``email`` is empty), the locale of ``fallback_user_id``."""
    if email.strip():
        user_id = session.scalar(
            select(User.id)
            .where(User.organization_id == organization_id)
            .where(func.lower(User.email) == email.strip().lower())
            .limit(1)
        )
        if user_id is not None:
            return locale_of(session, user_id)
    return locale_of(session, fallback_user_id)
