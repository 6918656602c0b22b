"""Time zone names Microsoft Graph accepts.

Graph takes Windows zone names and a fixed list of IANA names; sending the Windows name is
the safest choice, so IANA zones we know are translated, the rest sent as they are.
"""

from __future__ import annotations

IANA_TO_WINDOWS: dict[str, str] = {
    "UTC": "UTC",
    "Etc/UTC": "UTC",
    "Europe/Berlin": "W. Europe Standard Time",
    "Europe/Vienna": "W. Europe Standard Time",
    "Europe/Zurich": "W. Europe Standard Time",
    "Europe/Amsterdam": "W. Europe Standard Time",
    "Europe/Rome": "W. Europe Standard Time",
    "Europe/Luxembourg": "W. Europe Standard Time",
    "Europe/Paris": "Romance Standard Time",
    "Europe/Brussels": "Romance Standard Time",
    "Europe/Copenhagen": "Romance Standard Time",
    "Europe/Madrid": "Romance Standard Time",
    "Europe/Warsaw": "Central European Standard Time",
    "Europe/Prague": "Central Europe Standard Time",
    "Europe/Budapest": "Central Europe Standard Time",
    "Europe/London": "GMT Standard Time",
    "Europe/Lisbon": "GMT Standard Time",
    "Europe/Athens": "GTB Standard Time",
    "Europe/Bucharest": "GTB Standard Time",
    "Europe/Helsinki": "FLE Standard Time",
    "Europe/Istanbul": "Turkey Standard Time",
    "Europe/Moscow": "Russian Standard Time",
    "America/New_York": "Eastern Standard Time",
    "America/Chicago": "Central Standard Time",
    "America/Denver": "Mountain Standard Time",
    "America/Los_Angeles": "Pacific Standard Time",
    "Asia/Shanghai": "China Standard Time",
    "Asia/Tokyo": "Tokyo Standard Time",
}

WINDOWS_TO_IANA: dict[str, str] = {}
for _iana, _win in IANA_TO_WINDOWS.items():
    WINDOWS_TO_IANA.setdefault(_win, _iana)


def graph_timezone(iana: str) -> str:
    """The name to send to Graph for an IANA zone."""
    return IANA_TO_WINDOWS.get(iana, iana)


def iana_of(name: str) -> str:
    """IANA zone for a name Graph returns (Windows or IANA)."""
    return WINDOWS_TO_IANA.get(name, name)
