"""Notification texts in the subscriber's language, through the message catalogues.

The catalogues are ``infrasight/locales/<locale>/LC_MESSAGES/notify.po`` (their own domain,
loaded by :mod:`infrasight.locales`). A text names the asset, the element, the evidence and a
link. A message missing from a catalogue falls back to English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infrasight.core.phrases import Phrase
from infrasight.locales import messages
from infrasight.locales.phrases import evidence_translator, render_phrase
from infrasight.notify.kinds import LANGUAGES

__all__ = ["TITLES", "Text", "notify_catalogue", "render"]

TITLES: Mapping[str, str] = {
    "alarm.raised": "Alarm raised: {subject} on {asset}",
    "alarm.escalated": "Alarm escalated: {subject} on {asset}",
    "alarm.cleared": "Alarm cleared: {subject} on {asset}",
    "alarm.unacknowledged": "Alarm not acknowledged (reminder {step}): {subject} on {asset}",
    "hazard.opened": "Hazard opened: {subject} on {asset}",
    "hazard.escalated": "Hazard escalated: {subject} on {asset}",
    "hazard.reopened": "Hazard reopened: {subject} on {asset}",
    "hazard.unattended": "Hazard not attended (reminder {step}): {subject} on {asset}",
    "work_order.assigned": "Work order assigned: {subject} on {asset}",
    "work_order.overdue": "Work order overdue (reminder {step}): {subject} on {asset}",
    "work_order.not_started": "Work order not started (reminder {step}): {subject} on {asset}",
    "work_order.verified": "Work order verified and closed: {subject} on {asset}",
    "work_order.verification_failed": (
        "Verification failed, work order reopened: {subject} on {asset}"
    ),
}
_LINES = (
    ("asset", "Asset: {asset}"),
    ("element", "Element: {element}"),
    ("severity", "Severity: {severity}"),
    ("evidence", "Evidence: {evidence}"),
    ("note", "Note: {note}"),
    ("link", "Open: {link}"),
)


def notify_catalogue(language: str) -> Mapping[str, str]:
    """The ``notify`` domain's translations of ``language`` (msgid -> msgstr)."""
    return messages("notify", language)


@dataclass(frozen=True, slots=True, kw_only=True)
class Text:
    """A rendered notification: a one-line title and a plain-text body."""

    language: str
    title: str
    body: str


def render(kind: str, payload: Mapping[str, Any], language: str) -> Text:
    """The title and body of an event of ``kind`` in ``language`` (unknown: English).

    ``payload`` carries ``subject``, ``asset``, ``element``, ``severity``, ``evidence`` (a list
    of strings), ``note``, ``step`` and ``link``; empty ones are left out of the body. Where it
    also carries ``subject_message``, ``note_message`` or ``evidence_messages`` (message keys
    and parameters, ``core.phrases``), those are read in ``language`` instead of the English
    texts kept in the payload as recorded.
    """
    if language not in LANGUAGES:
        language = "en"
    messages = notify_catalogue(language)
    values = {
        "subject": payload.get("subject", ""),
        "asset": payload.get("asset", "") or "-",
        "element": payload.get("element", ""),
        "severity": payload.get("severity", ""),
        "evidence": "; ".join(str(e) for e in payload.get("evidence", []) or []),
        "note": payload.get("note", ""),
        "step": payload.get("step", ""),
        "link": payload.get("link", ""),
    }
    words = evidence_translator(language)
    for key in ("subject", "note"):
        said = Phrase.from_dict(payload.get(f"{key}_message"))
        if said is not None:
            values[key] = render_phrase(said, words)
    told = [Phrase.from_dict(m) for m in payload.get("evidence_messages", []) or []]
    if told and all(p is not None for p in told):
        separator = "；" if language != "en" else "; "
        values["evidence"] = separator.join(render_phrase(p, words) for p in told if p)
    template = TITLES.get(kind, "{subject}")
    title = messages.get(template, template).format(**values)
    lines = []
    for key, line in _LINES:
        if values[key] not in ("", None):
            lines.append(messages.get(line, line).format(**values))
    return Text(language=language, title=title, body="\n".join(lines) + "\n")
