"""Operator arguments as DAG authors pass them: XComArgs, rendered text, timedeltas."""

from __future__ import annotations

import datetime as dt

import pytest

from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.operators.arguments import (
    days,
    flag,
    kind_map,
    map_link,
    mapping_of,
    minutes,
    moment,
    names_of,
    text_map,
    window_of,
)

ENTRY = {"user_id": "u1", "upn": "jan@firma.de"}


@pytest.mark.parametrize("given", [
    {"mapping": {"M-1": ENTRY}, "counts": {"matched": 1}},
    {"M-1": ENTRY, "junk": "not an entry"},
    '{"mapping": {"M-1": {"user_id": "u1", "upn": "jan@firma.de"}}}',
    " {'M-1': {'user_id': 'u1', 'upn': 'jan@firma.de'}} ",  # a rendered Python dict
])
def test_mapping_of_accepts_the_result_its_part_or_their_text(given):
    assert mapping_of(given) == {"M-1": ENTRY}


@pytest.mark.parametrize(("given", "message"), [("not a dict {", "neither JSON nor a dict"), ([1], "must be a dict")])
def test_mapping_of_refuses_anything_else(given, message):
    with pytest.raises(ConfigurationError, match=message):
        mapping_of(given)


def test_moments_from_text_dates_and_naive_datetimes_are_utc_aware():
    assert moment(None) is None and moment("") is None
    assert moment(dt.datetime(2026, 3, 1, 8)) == dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    assert moment("2026-03-01T08:00:00+01:00") == dt.datetime(2026, 3, 1, 7, tzinfo=dt.UTC)
    assert moment("2026-03-01") == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def test_days_from_timedeltas_numbers_and_text_never_negative():
    assert days(dt.timedelta(hours=5)) == dt.timedelta(hours=5)
    assert days("7") == days(7) == dt.timedelta(days=7) and days("0.5") == dt.timedelta(hours=12)
    with pytest.raises(ConfigurationError, match="past '.*' is neither"):
        days("a week", "past")
    with pytest.raises(ConfigurationError, match="0 or more"):
        days(-1)


@pytest.mark.parametrize(("given", "expected"), [("True", True), (" yes ", True), ("1", True), ("on", True),
                                                 ("False", False), ("no", False), ("", False), (1, True), (0, False)])
def test_flags_as_templates_render_them(given, expected):
    assert flag(given) is expected


def test_window_prefers_explicit_then_the_data_interval_then_rolling():
    a, b = dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    assert window_of({}, "2026-03-01", "2026-03-02", 7, 90).start == a
    interval = window_of({"data_interval_start": a, "data_interval_end": b}, None, None, 7, 90)
    assert (interval.start, interval.end) == (a, b)
    rolling = window_of({}, None, None, "1", "2")
    assert rolling.end - rolling.start == dt.timedelta(days=3)
    with pytest.raises(ConfigurationError, match="future"):
        window_of({}, None, None, 1, -2)


def test_window_bounds_as_the_business_reads_them():
    from zoneinfo import ZoneInfo

    assert minutes(dt.datetime(2026, 3, 1, 7, 5, tzinfo=dt.UTC), ZoneInfo("Europe/Berlin")) == "01.03.2026 08:05"


def test_text_maps_from_dicts_json_or_nothing():
    assert text_map({"Urlaub": 1}, "x") == {"Urlaub": "1"}
    assert text_map('{"Urlaub": "oof"}', "x") == {"Urlaub": "oof"} and text_map("  ", "x") == {} == text_map(None, "x")
    with pytest.raises(ConfigurationError, match="showAs map is not valid JSON"):
        text_map("{", "showAs")
    with pytest.raises(ConfigurationError, match="must be a dict"):
        text_map(["Urlaub"], "showAs")


def test_kind_maps_override_defaults_casefolded_and_only_with_graphs_values():
    merged = kind_map({"baustelle": "tentative"}, {"Urlaub": "oof"}, "freeBusyStatus", "showAs")
    assert merged["urlaub"] == "oof" and merged["baustelle"] == "tentative"
    with pytest.raises(ConfigurationError, match="Outlook knows free, tentative"):
        kind_map({"Urlaub": "away"}, {}, "freeBusyStatus", "showAs")
    with pytest.raises(ConfigurationError):
        kind_map({"Urlaub": "unknown"}, {}, "freeBusyStatus", "showAs")  # Graph's answer, never written


def test_names_from_lists_json_or_comma_text():
    assert names_of(None, "x") is None and names_of(" ", "x") is None
    assert names_of("[]", "x") == [] and names_of('["Wartung", " Intern "]', "x") == ["Wartung", "Intern"]
    assert names_of("Wartung, Intern,,", "x") == ["Wartung", "Intern"]
    assert names_of(("a", " "), "x") == ["a"]
    with pytest.raises(ConfigurationError, match="not a valid JSON list"):
        names_of("[Wartung", "include_categories")
    with pytest.raises(ConfigurationError, match="must be a list of names"):
        names_of([1, 2], "include_categories")


def test_map_links_must_be_https_with_the_query_placeholder():
    assert map_link(None) is None and map_link(" ") is None
    osm = "https://www.openstreetmap.org/search?query={query}"
    assert map_link(f" {osm} ") == osm
    for bad in ("http://maps.example/?q={query}", "https://maps.example/", "https://maps.example/{other}"):
        with pytest.raises(ConfigurationError, match="map_url"):
            map_link(bad)
