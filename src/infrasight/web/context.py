"""What the pages share: the platform, the login sessions of browsers, and the caller.

A browser is known by NiceGUI's signed browser-id cookie (HttpOnly). Logging in through the web
stores the session token that ``services.login`` issued against that id, in memory (a restart
logs everyone out of the web pages; the token itself stays valid for the API until it expires).
Every page load and action resolves the token again, so logout, expiry and deactivation apply at
once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from infrasight.core.errors import AuthenticationError
from infrasight.platform import Platform
from infrasight.services.auth import Principal, resolve_token
from infrasight.services.throttle import FailureLimiter
from infrasight.web.forecast_cache import ForecastCache
from infrasight.web.i18n import DEFAULT_LOCALE, LOCALES, Translator, translator
from infrasight.web.summary_cache import SummaryCache

__all__ = ["BrowserState", "WebContext"]

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class BrowserState:
    """What the server keeps for one browser: its session token and chosen locale."""

    token: str | None = None
    locale: str = DEFAULT_LOCALE


@dataclass(slots=True)
class WebContext:
    """The platform and the browsers' states; one per mounted web app."""

    platform: Platform
    limiter: FailureLimiter
    browsers: dict[str, BrowserState] = field(default_factory=dict)
    #: The API's route paths (to link to optional endpoints only where they exist).
    api_paths: frozenset[str] = frozenset()
    #: Messages a page asked for that a catalogue lacks (checked by the tests).
    missing: dict[str, set[str]] = field(default_factory=dict)
    #: Forecasts the asset page drew, shared by browsers (see :mod:`.forecast_cache`).
    forecasts: ForecastCache = field(default_factory=ForecastCache)
    #: What the overview and asset pages read, shared until a write (see :mod:`.summary_cache`).
    summaries: SummaryCache = field(default_factory=SummaryCache)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.summaries.watch(self.platform.database)

    def has_api(self, path: str) -> bool:
        """Whether the API serves ``path`` (a route template such as ``/api/v1/x/{id}``)."""
        return path in self.api_paths

    def state(self, browser_id: str) -> BrowserState:
        """The state of a browser (created empty on first sight)."""
        with self._lock:
            return self.browsers.setdefault(browser_id, BrowserState())

    def forget(self, browser_id: str) -> None:
        """Drop a browser's token (logout)."""
        with self._lock:
            state = self.browsers.get(browser_id)
            if state is not None:
                state.token = None

    def set_locale(self, browser_id: str, locale: str) -> None:
        """Remember the browser's language (unknown locales are refused)."""
        if locale not in LOCALES:
            raise ValueError(f"unknown locale {locale!r}; expected one of {sorted(LOCALES)}")
        self.state(browser_id).locale = locale

    def translator(self, browser_id: str) -> Translator:
        """A translator for the browser's locale; its misses are collected in :attr:`missing`."""
        result = translator(self.state(browser_id).locale)
        result.missing = self.missing.setdefault(result.locale, set())
        return result

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A database session for one page load or action."""
        with self.platform.database.session() as session:
            yield session

    def principal(self, session: Session, browser_id: str) -> Principal | None:
        """The logged-in user of this browser, or None (no, expired or revoked session)."""
        token = self.state(browser_id).token
        if token is None:
            return None
        try:
            caller = resolve_token(session, token)
        except AuthenticationError as error:
            _LOGGER.info("web session of browser ended: %s", error)
            self.forget(browser_id)
            return None
        if caller.role is None:  # a device token never logs in here
            self.forget(browser_id)
            return None
        if session.dirty:
            session.commit()  # the token's last use
        return caller
