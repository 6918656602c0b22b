"""Outlook categories: which name an appointment's category (Terminart) gets, and its colour.

An event carries category names only; Outlook shows a name in colour when the mailbox's master
category list holds it (Graph `outlookCategory`: displayName + `color`, preset0 ... preset24).
Names match the list without regard to case, as Outlook does. The colour is set when the sync
creates the category; a category the user (or an earlier configuration) made keeps its colour:
the master list is the user's, not ours, and nothing in it carries our tag.

Default colours for a craft business (Graph's preset names, the colour Outlook shows):
Baustelle orange, Montage dark orange, Kundentermin blue, Aufmaß yellow, Wartung teal,
Reparatur dark red, Urlaub green, Krank red, Arzt cranberry, Schulung purple, Büro/Intern gray;
any other name a colour from its name (stable across runs and mailboxes).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping

from oh_outlook_provider.sync.event_kinds import match_key

COLOR_DEFAULTS: dict[str, str] = {
    "Baustelle": "preset1", "Montage": "preset16", "Kundentermin": "preset7", "Aufmaß": "preset3",
    "Wartung": "preset5", "Reparatur": "preset15", "Urlaub": "preset4", "Krank": "preset0", "Arzt": "preset9",
    "Schulung": "preset8", "Büro": "preset12", "Intern": "preset12",
}
# Graph's categoryColor presets by the colour Outlook shows (outlookCategory resource page).
COLOR_NAMES = ("Red", "Orange", "Brown", "Yellow", "Green", "Teal", "Olive", "Blue", "Purple", "Cranberry",
               "Steel", "DarkSteel", "Gray", "DarkGray", "Black", "DarkRed", "DarkOrange", "DarkBrown",
               "DarkYellow", "DarkGreen", "DarkTeal", "DarkOlive", "DarkBlue", "DarkPurple", "DarkCranberry")
_BRIGHT = tuple(f"preset{i}" for i in range(11))  # the light presets: readable on a phone
MAX_NAME = 255


def outlook_name(category: str, category_map: Mapping[str, str]) -> str | None:
    """The Outlook category of an openHandwerk category: renamed by the (casefolded) map, else its
    own name; a map value of "" writes none."""
    own = category.strip()
    if not own:
        return None
    name = category_map.get(match_key(own), own).strip()[:MAX_NAME]
    return name or None


def color_of(name: str, colors: Mapping[str, str]) -> str:
    """`colors` holds casefolded names (configured over COLOR_DEFAULTS)."""
    key = match_key(name)
    return colors.get(key) or _BRIGHT[zlib.crc32(key.encode()) % len(_BRIGHT)]


def missing(master: Iterable[Mapping[str, str]], wanted: Iterable[str], colors: Mapping[str, str]) -> list[dict]:
    """POST bodies for the wanted names the master list lacks (compared casefolded), sorted by name."""
    have = {match_key(c.get("displayName") or "") for c in master}
    out: dict[str, dict] = {}
    for name in wanted:
        key = match_key(name)
        if key and key not in have and key not in out:
            out[key] = {"displayName": name.strip(), "color": color_of(name, colors)}
    return [out[k] for k in sorted(out)]
