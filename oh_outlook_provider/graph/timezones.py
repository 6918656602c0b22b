"""Time zone names Microsoft Graph accepts, from CLDR's windowsZones (as shipped by tzlocal).

Graph takes Windows zone names and IANA names; sending the Windows name is the safest choice
(dateTimeTimeZone on learn.microsoft.com lists every Windows name, only some IANA ones), so
every IANA zone CLDR maps is translated, and the rest sent as they are.
"""

from __future__ import annotations

from tzlocal.windows_tz import tz_win, win_tz

WINDOWS_NAMES = frozenset(win_tz)  # Windows name -> IANA (CLDR's "001" territory)
MAPPED_IANA_NAMES = frozenset(tz_win)


def graph_timezone(iana: str) -> str:
    """The name to send to Graph for an IANA zone."""
    return tz_win.get(iana, iana)


def iana_of(name: str) -> str:
    """IANA zone for a name Graph returns (Windows or IANA)."""
    return win_tz.get(name, name)
