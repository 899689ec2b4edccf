"""The frame around every page: header, navigation, language switch and logout."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from nicegui import app, ui
from sqlalchemy.orm import Session

from infrasight.core.domain import Action, role_allows
from infrasight.services.accounts import revoke_tokens
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.storage.models import User
from infrasight.web.context import WebContext
from infrasight.web.i18n import LOCALE_NAMES, N_, Translator

__all__ = ["PageScope", "browser_id", "language_switch", "open_page"]


ROLE_NAMES = {
    "viewer": N_("viewer"),
    "inspector": N_("inspector"),
    "engineer": N_("engineer"),
    "admin": N_("admin"),
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

    def may(self, action: Action) -> bool:
        """Whether the caller's role allows ``action`` (to show or hide an action)."""
        return self.caller.role is not None and role_allows(self.caller.role, action)


def language_switch(ctx: WebContext, t: Translator) -> None:
    """A select of the three languages; the choice is kept for this browser."""
    bid = browser_id()

    def change(locale: str) -> None:
        ctx.set_locale(bid, locale)
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
        ui.link(t("Overview"), "/").classes("text-white no-underline").mark("nav-overview")
        ui.link(t("Alarms"), "/alarms").classes("text-white no-underline").mark("nav-alarms")
        ui.space()
        role = ROLE_NAMES[scope.caller.role.value] if scope.caller.role else ""
        ui.label(f"{scope.caller.name} · {t(role)}").classes("text-white text-xs")
        language_switch(ctx, t)
        ui.button(t("Log out"), on_click=lambda: _log_out(ctx, bid)).props(
            "flat color=white dense"
        ).mark("logout")
    ui.page_title(f"{title} · InfraSight")


@contextmanager
def open_page(ctx: WebContext, title: str) -> Iterator[PageScope | None]:
    """The scope of a logged-in page, or None after sending the browser to the login page.

    ``title`` is an English message id, translated here.
    """
    bid = browser_id()
    t = ctx.translator(bid)
    with ctx.session() as session:
        caller = ctx.principal(session, bid)
        if caller is None:
            ui.navigate.to("/login")
            yield None
            return
        scope = PageScope(session=session, caller=caller, t=t)
        _header(ctx, scope, t(title))
        with ui.column().classes("w-full max-w-6xl mx-auto p-2 sm:p-4 gap-3"):
            yield scope
