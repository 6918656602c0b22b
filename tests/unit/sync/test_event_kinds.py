"""Issue 14 items 1 and 3: free/busy and privacy by appointment type (Terminart)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.operators.arguments import kind_map
from oh_outlook_provider.sync.event_kinds import SENSITIVITY_DEFAULTS, SHOW_AS_DEFAULTS
from oh_outlook_provider.sync.models import Appointment
from oh_outlook_provider.sync.render import RenderOptions, render

BERLIN = ZoneInfo("Europe/Berlin")


def appt(category: str, appointment_id: str = "T-1") -> Appointment:
    start = dt.datetime(2026, 3, 2, 8, tzinfo=BERLIN)
    return Appointment(appointment_id, "Termin", start, start + dt.timedelta(hours=2), category=category,
                       employee_ids=("M-1",))


def kinds(category: str, options: RenderOptions | None = None) -> tuple[str, str]:
    fields = render(appt(category), "M-1", "openhandwerk:4711", options or RenderOptions()).fields
    return fields["showAs"], fields["sensitivity"]


@pytest.mark.parametrize(("category", "expected"), [
    ("Urlaub", ("oof", "private")), ("Krank", ("oof", "private")), (" krank ", ("oof", "private")),
    ("Arzt", ("busy", "private")), ("Baustelle", ("busy", "normal")), ("Kundentermin", ("busy", "normal")),
    ("", ("busy", "normal")),
])
def test_german_defaults(category, expected):
    assert kinds(category) == expected


def test_a_given_map_overrides_the_defaults_and_keeps_the_rest():
    show_as = kind_map('{"Baustelle": "workingElsewhere", "Urlaub": "free"}', SHOW_AS_DEFAULTS, "freeBusyStatus",
                       "showAs")
    sensitivity = kind_map({"Schulung": "personal"}, SENSITIVITY_DEFAULTS, "sensitivity", "sensitivity")
    options = RenderOptions(show_as_map=show_as, sensitivity_map=sensitivity)
    assert kinds("Baustelle", options) == ("workingElsewhere", "normal")
    assert kinds("Urlaub", options) == ("free", "private")
    assert kinds("Krank", options) == ("oof", "private")
    assert kinds("schulung", options) == ("busy", "personal")


@pytest.mark.parametrize(("given", "message"), [
    ({"Urlaub": "abwesend"}, "showAs for category 'Urlaub' is 'abwesend'; Outlook knows free, tentative, busy"),
    ({"Urlaub": "unknown"}, "is 'unknown'"),  # Graph's answer for "not set", never a value to write
    ("{kaputt", "showAs map is not valid JSON"),
    (["oof"], "must be a dict of category -> value"),
])
def test_values_outside_microsofts_enum_are_refused_with_the_allowed_ones(given, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        kind_map(given, SHOW_AS_DEFAULTS, "freeBusyStatus", "showAs")


def test_changing_a_map_changes_the_fingerprint_of_that_category_only():
    before, after = RenderOptions(), RenderOptions(show_as_map={"baustelle": "workingElsewhere"},
                                                    sensitivity_map={"baustelle": "private"})
    for category, changed in (("Baustelle", True), ("Wartung", False)):
        a, b = (render(appt(category), "M-1", "openhandwerk:4711", o) for o in (before, after))
        assert (a.digest != b.digest) is changed and (a.comparable_digest != b.comparable_digest) is changed
        differing = {name for name, h in a.hashes.items() if b.hashes[name] != h}
        assert differing == ({"showAs", "sensitivity"} if changed else set())
