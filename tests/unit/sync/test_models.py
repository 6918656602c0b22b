"""The plain records: addresses as a German reader writes them, a user's addresses, the window's rules."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from oh_outlook_provider.sync.models import Appointment, GraphUser, PostalAddress, Window, as_utc


def test_an_address_is_one_line_and_a_german_country_is_left_out():
    assert PostalAddress("Hauptstraße 5", "50667", "Köln", "Deutschland").display() == "Hauptstraße 5, 50667 Köln"
    assert PostalAddress("Rue 1", "1000", "Bruxelles", "Belgien").display() == "Rue 1, 1000 Bruxelles, Belgien"
    assert PostalAddress(city="Köln").display() == "Köln" and PostalAddress().display() == ""


def test_a_users_addresses_are_casefolded_and_only_smtp_proxies_count():
    user = GraphUser("u1", user_principal_name="Jan@Firma.de", mail=None, other_mails=(" privat@web.de ",),
                     proxy_addresses=("SMTP:Jan.Koch@firma.de", "smtp:buero@firma.de", "X500:/o=foo", "sip:jan@firma.de"))
    assert user.addresses() == {"jan@firma.de", "privat@web.de", "jan.koch@firma.de", "buero@firma.de"}


def test_a_window_needs_aware_bounds_in_order_and_is_half_open():
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    window = Window(start, start + dt.timedelta(days=1))
    assert window.contains(start) and not window.contains(start + dt.timedelta(days=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        Window(dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="not after start"):
        Window(start, start)


def test_starts_as_utc_instants():
    berlin = ZoneInfo("Europe/Berlin")
    assert as_utc(dt.date(2026, 7, 1), "Europe/Berlin") == dt.datetime(2026, 6, 30, 22, tzinfo=dt.UTC)
    assert as_utc(dt.datetime(2026, 1, 1, 8), "Europe/Berlin") == dt.datetime(2026, 1, 1, 7, tzinfo=dt.UTC)
    aware = dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC)
    assert as_utc(aware, "Europe/Berlin") == aware  # an aware time keeps its own zone
    appointment = Appointment("T-1", "x", dt.datetime(2026, 3, 2, 8, tzinfo=berlin), dt.datetime(2026, 3, 2, 9, tzinfo=berlin))
    assert appointment.start_utc() == dt.datetime(2026, 3, 2, 7, tzinfo=dt.UTC)
