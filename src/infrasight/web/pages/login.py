"""Login: e-mail and password through ``services.login``; the session token stays server-side."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from nicegui import ui

from infrasight.core.errors import AuthenticationError, InvalidInputError
from infrasight.services.login import login
from infrasight.services.throttle import TooManyAttemptsError
from infrasight.web.context import WebContext
from infrasight.web.fonts import font_css
from infrasight.web.i18n import LOCALE_NAMES
from infrasight.web.layout import browser_id, language_switch

__all__ = ["register"]


def register(ctx: WebContext) -> None:
    """Add ``/login``."""

    @ui.page("/login")
    def login_page(request: Request) -> None:
        bid = browser_id()
        t = ctx.translator(bid)
        client = request.client.host if request.client else "unknown"
        ui.page_title(f"{t('Log in')} · InfraSight")
        if css := font_css(t.locale):
            ui.add_css(css)
        with ui.header().classes("items-center bg-slate-800 px-3 py-1"):
            ui.label("InfraSight").classes("text-white text-lg font-bold")
            ui.space()
            language_switch(ctx, t)
        with ui.card().classes("w-full max-w-sm mx-auto mt-8"):
            ui.label(t("Log in")).classes("text-xl")
            email = (
                ui.input(t("E-mail")).props("type=email autocomplete=username").classes("w-full")
            )
            email.mark("email")
            password = ui.input(t("Password"), password=True).props("autocomplete=current-password")
            password.classes("w-full").mark("password")
            organization = ui.input(t("Organisation (only if asked)")).classes("w-full")
            organization.mark("organization")
            message = ui.label("").classes("text-red-700").mark("login-error")

            def submit() -> None:
                lifetime = timedelta(hours=ctx.platform.settings.session_hours)
                with ctx.session() as session:
                    try:
                        result = login(
                            session,
                            ctx.limiter,
                            email=str(email.value or ""),
                            password=str(password.value or ""),
                            organization=str(organization.value).strip() or None
                            if organization.value
                            else None,
                            client=client,
                            lifetime=lifetime,
                        )
                    except TooManyAttemptsError as error:
                        message.text = t(
                            "Too many failed attempts; try again in {seconds} s.",
                            seconds=error.retry_after_s,
                        )
                        return
                    except InvalidInputError as error:
                        field = getattr(error, "field", None)
                        message.text = (
                            t("This e-mail has accounts in several organisations; name one.")
                            if field == "organization"
                            else t("Wrong e-mail or password.")
                        )
                        return
                    except AuthenticationError:
                        message.text = t("Wrong e-mail or password.")
                        return
                    session.commit()
                    stored = result.user.locale
                ctx.state(bid).token = result.session.token
                if (
                    stored is not None and stored in LOCALE_NAMES
                ):  # the user's own language wins over the browser's
                    ctx.set_locale(bid, stored)
                ui.navigate.to("/")

            password.on("keydown.enter", submit)
            ui.button(t("Log in"), on_click=submit).classes("w-full").mark("submit")
