"""Outlook category names and colours (issue 14 item 5): pure rules."""

from __future__ import annotations

from oh_outlook_provider.graph.schema import enum_members
from oh_outlook_provider.sync.categories import COLOR_DEFAULTS, COLOR_NAMES, color_of, missing, outlook_name
from oh_outlook_provider.sync.event_kinds import casefolded

COLORS = casefolded(COLOR_DEFAULTS)


def test_names_follow_the_map_and_keep_their_own_otherwise():
    renamed = casefolded({"Baustelle": "Montage vor Ort", "Intern": ""})
    assert outlook_name(" baustelle ", renamed) == "Montage vor Ort"
    assert outlook_name("Wartung", renamed) == "Wartung"
    assert outlook_name("Intern", renamed) is None and outlook_name("  ", renamed) is None
    assert len(outlook_name("x" * 400, {})) == 255


def test_colours_default_by_name_and_are_stable_for_others():
    assert color_of("Urlaub", COLORS) == "preset4" and color_of("BAUSTELLE", COLORS) == "preset1"
    assert color_of("Dachdecker-Notdienst", COLORS) == color_of("dachdecker-notdienst ", {})
    assert all(c in enum_members("categoryColor") for c in {*COLOR_DEFAULTS.values(), color_of("Foo", {})})
    assert len(COLOR_NAMES) == len(enum_members("categoryColor")) - 1  # every preset named, "none" aside


def test_missing_compares_names_as_outlook_does():
    master = [{"displayName": "baustelle", "color": "preset12"}, {"displayName": "Rote Kategorie", "color": "preset0"}]
    bodies = missing(master, ["Baustelle", "Urlaub", "urlaub", "Wartung"], COLORS)
    assert bodies == [{"displayName": "Urlaub", "color": "preset4"}, {"displayName": "Wartung", "color": "preset5"}]
    assert missing(master, ["BAUSTELLE"], COLORS) == []
