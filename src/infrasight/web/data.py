"""What pages read, through the API's own route functions (same tenancy, roles and queries).

A page never runs a query of its own that could show what the API would refuse: it calls the
function that serves the matching endpoint, with the logged-in user as the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from infrasight.api.routes.alarms import AlarmRead, RuleRead, list_alarms, list_rules
from infrasight.api.routes.assets import AssetRead, ElementRead, list_assets, list_elements
from infrasight.api.routes.channels import ChannelRead, list_channels
from infrasight.api.routes.common import Page
from infrasight.locales import DEFAULT_LOCALE
from infrasight.services.auth import Principal
from infrasight.signals.lifecycle import AlarmStatus

__all__ = [
    "active_alarms_by_asset",
    "all_items",
    "asset_channels",
    "assets",
    "elements",
    "open_alarms_on",
    "rule_levels",
    "rules",
]

T = TypeVar("T")
PAGE = 1000


def all_items(fetch: Callable[[int, int], Page[T]]) -> list[T]:
    """Every item of a paged listing (``fetch(limit, offset)``)."""
    items: list[T] = []
    while True:
        page = fetch(PAGE, len(items))
        items.extend(page.items)
        if not page.items or len(items) >= page.total:
            return items


def assets(session: Session, caller: Principal) -> list[AssetRead]:
    """The caller's assets (``GET /assets``)."""
    return all_items(
        lambda limit, offset: list_assets(session, caller, kind=None, limit=limit, offset=offset)
    )


def elements(session: Session, caller: Principal, asset_id: int) -> list[ElementRead]:
    """An asset's elements (``GET /assets/{id}/elements``)."""
    return list_elements(asset_id, session, caller)


def asset_channels(session: Session, caller: Principal, asset_id: int) -> list[ChannelRead]:
    """The channels on an asset's elements (``GET /channels?asset_id=``)."""
    return all_items(
        lambda limit, offset: list_channels(
            session, caller, asset_id=asset_id, limit=limit, offset=offset
        )
    )


def rules(session: Session, caller: Principal, locale: str = "en") -> list[RuleRead]:
    """The organisation's alarm rules (``GET /rules``), summaries in ``locale``."""
    return all_items(
        lambda limit, offset: list_rules(session, caller, locale, limit=limit, offset=offset)
    )


def _open_alarms(session: Session, caller: Principal) -> list[AlarmRead]:
    found: list[AlarmRead] = []
    for status in (AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED):

        def fetch(limit: int, offset: int, status: str = status.value) -> Page[AlarmRead]:
            return list_alarms(
                session, caller, status=status, locale=DEFAULT_LOCALE, limit=limit, offset=offset
            )

        found += all_items(fetch)
    return found


def open_alarms_on(session: Session, caller: Principal, channel_keys: set[str]) -> list[AlarmRead]:
    """Open alarms of the rules watching any of ``channel_keys``, most severe first."""
    rule_channels = {
        rule.id: set(map(str, rule.definition.get("channels", [])))
        for rule in rules(session, caller)
    }
    found = [
        alarm
        for alarm in _open_alarms(session, caller)
        if alarm.rule_id is not None and rule_channels.get(alarm.rule_id, set()) & channel_keys
    ]
    return sorted(found, key=lambda a: (-a.severity, a.raised_at))


def active_alarms_by_asset(
    session: Session, caller: Principal, asset_list: list[AssetRead]
) -> dict[int, int]:
    """Open (active or acknowledged) alarms per asset, through the rules' channels."""
    rule_channels = {
        rule.id: set(map(str, rule.definition.get("channels", [])))
        for rule in rules(session, caller)
    }
    alarms = _open_alarms(session, caller)
    counts: dict[int, int] = {}
    for asset in asset_list:
        keys = {c.key for c in asset_channels(session, caller, asset.id)}
        counts[asset.id] = sum(
            1
            for alarm in alarms
            if alarm.rule_id is not None and rule_channels.get(alarm.rule_id, set()) & keys
        )
    return counts


def rule_levels(session: Session, caller: Principal, channel_key: str) -> list[dict[str, Any]]:
    """The value thresholds of the rules watching a channel: name, severity, upper/lower."""
    levels: list[dict[str, Any]] = []
    for rule in rules(session, caller):
        if not rule.enabled or channel_key not in rule.definition.get("channels", []):
            continue
        for level in rule.definition.get("levels", []):
            for limit in level.get("limits", []):
                if limit.get("quantity") != "value":
                    continue
                for side in ("upper", "lower"):
                    if limit.get(side) is not None:
                        levels.append(
                            {
                                "name": str(level.get("name", "")),
                                "severity": int(level.get("severity", 0)),
                                "value": float(limit[side]),
                                "rule": rule.key,
                            }
                        )
    return levels
