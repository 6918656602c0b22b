"""Zone names for Graph: IANA -> Windows where CLDR maps it, and back."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from oh_outlook_provider.graph.timezones import MAPPED_IANA_NAMES, WINDOWS_NAMES, graph_timezone, iana_of


def test_iana_zones_are_sent_by_their_windows_name():
    assert graph_timezone("Europe/Berlin") == "W. Europe Standard Time"
    assert graph_timezone("UTC") == "UTC"
    assert graph_timezone("America/New_York") == "Eastern Standard Time"


def test_an_unmapped_name_is_sent_as_it_is():
    assert graph_timezone("Mars/Olympus_Mons") == "Mars/Olympus_Mons"
    assert iana_of("Mars/Olympus_Mons") == "Mars/Olympus_Mons"


def test_a_windows_name_graph_returns_reads_as_an_iana_zone():
    assert iana_of("W. Europe Standard Time") == "Europe/Berlin"
    assert iana_of("Europe/Berlin") == "Europe/Berlin"


def test_every_windows_name_maps_to_a_zone_python_knows_and_back_to_itself():
    assert "W. Europe Standard Time" in WINDOWS_NAMES and "Europe/Berlin" in MAPPED_IANA_NAMES
    for name in WINDOWS_NAMES:
        ZoneInfo(iana_of(name))
        assert graph_timezone(iana_of(name)) == name
