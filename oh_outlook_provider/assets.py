"""The Airflow asset a sync run updates, so that other DAGs can be scheduled on "calendars updated"
(`schedule=[calendars_asset()]`), the Airflow 3 way to chain work. One asset per openHandwerk
account, named by its connection; each event carries the run's counts and window."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow.sdk import Asset


def calendars_asset(openhandwerk_conn_id: str = "openhandwerk_default") -> Asset:
    return Asset(name=f"oh_outlook_calendars__{openhandwerk_conn_id}",
                 uri=f"oh-outlook://{openhandwerk_conn_id}/calendars", group="oh_outlook")


def announce(context: Mapping[str, Any], outlets: Iterable[Any], totals: Mapping[str, int],
             window: Mapping[str, str] | None, appointments: int | None = None) -> None:
    """Put the run's counts on the events of the task's asset outlets (Airflow emits them on success)."""
    events = context.get("outlet_events")
    if events is None:
        return
    extra = {"totals": dict(totals), "window": dict(window or {}), "appointments": appointments}
    for outlet in outlets or []:
        if isinstance(outlet, Asset):
            events[outlet].extra = extra
