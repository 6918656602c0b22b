"""What kind of time an appointment is, by its openHandwerk category (Terminart): Outlook's free/busy
(`showAs`) and who may see the details (`sensitivity`).

Defaults for a German craft business:
- Urlaub, Krank -> `oof` (away); everything else -> `busy`. Site work (Baustelle, Montage,
  Kundentermin) stays `busy`, not `workingElsewhere`: Outlook's scheduling assistant treats
  "working elsewhere" as bookable, and a fitter on a site is not.
- Urlaub, Krank, Arzt -> `private`: colleagues with access to the calendar see only the time.

Categories match without regard to case and surrounding blanks. The operator checks given values
against Microsoft's schema (operators.arguments.kind_map), so a typo fails when the DAG is parsed,
not as a 400 from Graph for every event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SHOW_AS_DEFAULTS: dict[str, str] = {"Urlaub": "oof", "Krank": "oof"}
SENSITIVITY_DEFAULTS: dict[str, str] = {"Urlaub": "private", "Krank": "private", "Arzt": "private"}


def match_key(name: Any) -> str:
    """How a category (or status) name is matched: without regard to case and surrounding blanks."""
    return str(name).strip().casefold()


def casefolded(*maps: Mapping[str, Any] | None) -> dict[str, str]:
    """The maps merged, later ones winning, with category keys as they are matched."""
    return {match_key(k): str(v) for m in maps for k, v in (m or {}).items()}


def kind_of(category: str, mapping: Mapping[str, str], default: str) -> str:
    return mapping.get(match_key(category), default) if category else default
