"""The frame around every page: header, navigation, language switch and logout."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from nicegui import app, ui
from pydantic import ValidationError
from sqlalchemy.orm import Session

from infrasight.api.routes.users import MeUpdate, patch_me
from infrasight.core.domain import Action, Role, role_allows
from infrasight.core.errors import InfraSightError
from infrasight.locales.errors import error_message, error_translator, localise_message
from infrasight.services.accounts import revoke_tokens
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.storage.models import User
from infrasight.web.context import WebContext
from infrasight.web.fonts import font_css
from infrasight.web.i18n import LOCALE_NAMES, N_, Translator
from infrasight.web.summary_cache import SummaryCache, caller_key

__all__ = [
    "ROLE_NAMES",
    "PageScope",
    "act",
    "browser_id",
    "error_text",
    "language_switch",
    "may",
    "open_page",
]

T = TypeVar("T")


ROLE_NAMES = {
    "viewer": N_("viewer"),
    "inspector": N_("inspector"),
    "engineer": N_("engineer"),
    "admin": N_("admin"),
    "crew": N_("crew"),
}


def browser_id() -> str:
    """NiceGUI's id of the current browser (from its signed, HttpOnly cookie)."""
    return str(app.storage.browser["id"])


@dataclass(frozen=True, slots=True, kw_only=True)
class PageScope:
    """What a page body works with: a database session, the caller and the translator."""

    session: Session
    caller: Principal
    t: Translator
    #: Where :meth:`read` keeps answers between page loads (None: read every time).
    summaries: SummaryCache | None = None

    def read(self, what: str, *args: Hashable, fetch: Callable[[], T]) -> T:
        """``fetch()``'s answer, kept for page loads of the caller's organisation and role
        until something is written (see :mod:`infrasight.web.summary_cache`). ``what`` and
        ``args`` name the answer; never mutate it."""
        if self.summaries is None:
            return fetch()
        return self.summaries.get((what, caller_key(self.caller), *args), fetch)

    def may(self, action: Action) -> bool:
        """Whether the caller's role allows ``action`` (to show or hide an action)."""
        return may(self.caller, action)

    @property
    def crew(self) -> bool:
        """Whether the caller is field maintenance (their own work orders only)."""
        return self.caller.role is Role.CREW


def may(caller: Principal, action: Action) -> bool:
    """Whether ``caller``'s role allows ``action``."""
    return caller.role is not None and role_allows(caller.role, action)


def error_text(error: Exception, locale: str | None = None) -> str:
    """What a person reads of a refused action, in ``locale`` (None: English): the service's
    message, or pydantic's first error with its field (the API's 422 says the same)."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        said = str(first.get("msg", ""))
        if locale is not None:
            said = localise_message(said, error_translator(locale))
        return f"{where}: {said}" if where else said
    return error_message(error, locale)


def act(
    ctx: WebContext,
    bid: str,
    t: Translator,
    work: Callable[[Session, Principal], T],
    *,
    on_error: Callable[[str], None] | None = None,
) -> T | None:
    """Run one action for the browser's user in its own session; None when refused.

    A refusal (bad input, conflict, permission, a request body that does not validate) is shown
    as a notification (and given to ``on_error``) and returned as None; nothing is written
    then. ``work`` commits (through the route functions it calls).
    """
    with ctx.session() as session:
        caller = ctx.principal(session, bid)
        if caller is None:
            ui.navigate.to("/login")
            return None
        try:
            return work(session, caller)
        except (InfraSightError, ValidationError) as error:
            session.rollback()
            reason = error_text(error, t.locale)
            ui.notify(t("Not done: {reason}", reason=reason), type="negative")
            if on_error is not None:
                on_error(reason)
            return None


def language_switch(ctx: WebContext, t: Translator) -> None:
    """A select of the three languages; the choice is kept for this browser and, when a user
    is logged in, stored as the user's locale (``PATCH /users/me``)."""
    bid = browser_id()

    def change(locale: str) -> None:
        ctx.set_locale(bid, locale)
        with ctx.session() as session:
            caller = ctx.principal(session, bid)
            if caller is not None and caller.user_id is not None:
                patch_me(MeUpdate(locale=locale), session, caller)  # type: ignore[arg-type]
        ui.navigate.reload()

    ui.select(
        dict(LOCALE_NAMES),
        value=t.locale,
        on_change=lambda event: change(str(event.value)),
    ).props('dense outlined dark aria-label="language"').classes("w-32").mark("language")


def _log_out(ctx: WebContext, bid: str) -> None:
    with ctx.session() as session:
        caller = ctx.principal(session, bid)
        if caller is not None and caller.user_id is not None and caller.token_id is not None:
            user = session.get(User, caller.user_id)
            if user is not None:
                revoke_tokens(session, user, token_id=caller.token_id)
                record_audit(
                    session, caller, "logout", "user", user.id, {"token_id": caller.token_id}
                )
                session.commit()
    ctx.forget(bid)
    ui.navigate.to("/login")


def _header(ctx: WebContext, scope: PageScope, title: str) -> None:
    t = scope.t
    bid = browser_id()
    with ui.header().classes("items-center gap-2 flex-wrap bg-slate-800 px-3 py-1"):
        ui.link("InfraSight", "/").classes("text-white text-lg font-bold no-underline")
        if scope.may(Action.READ):
            ui.link(t("Overview"), "/").classes("text-white no-underline").mark("nav-overview")
            ui.link(t("Alarms"), "/alarms").classes("text-white no-underline").mark("nav-alarms")
            ui.link(t("Hazards"), "/hazards").classes("text-white no-underline").mark("nav-hazards")
        ui.link(t("Work orders"), "/work-orders").classes("text-white no-underline").mark(
            "nav-work-orders"
        )
        if scope.may(Action.READ):
            ui.link(t("Rules"), "/rules").classes("text-white no-underline").mark("nav-rules")
        ui.space()
        role = ROLE_NAMES[scope.caller.role.value] if scope.caller.role else ""
        ui.label(f"{scope.caller.name} · {t(role)}").classes("text-white text-xs")
        language_switch(ctx, t)
        ui.button(t("Log out"), on_click=lambda: _log_out(ctx, bid)).props(
            "flat color=white dense"
        ).mark("logout")
    ui.page_title(f"{title} · InfraSight")


@contextmanager
def open_page(
    ctx: WebContext, title: str, need: Action | None = Action.READ
) -> Iterator[PageScope | None]:
    """The scope of a logged-in page, or None after sending the browser to the login page.

    ``title`` is an English message id, translated here. A caller whose role lacks ``need``
    sees the frame and a refusal (a crew member is sent to their work orders instead).
    """
    bid = browser_id()
    t = ctx.translator(bid)
    if css := font_css(t.locale):
        ui.add_css(css)
    with ctx.session() as session:
        caller = ctx.principal(session, bid)
        if caller is None:
            ui.navigate.to("/login")
            yield None
            return
        scope = PageScope(session=session, caller=caller, t=t, summaries=ctx.summaries)
        _header(ctx, scope, t(title))
        with ui.column().classes("w-full max-w-6xl mx-auto p-2 sm:p-4 gap-3"):
            if need is not None and not scope.may(need):
                if scope.crew:
                    ui.navigate.to("/work-orders")
                ui.label(t("Your role may not see this page.")).mark("forbidden")
                yield None
                return
            yield scope
