"""The wording of the parser's rejection reasons, in English and German."""

from __future__ import annotations

from oh_outlook_provider.i18n import speaking
from oh_outlook_provider.openhandwerk.reasons import kind_name, moment_name, shown, unreadable


def test_kinds_and_moments_are_named_in_the_admins_language_and_a_label_stays_as_it_is():
    assert (kind_name("appointment"), kind_name("employee"), moment_name("start"), moment_name("end")) == (
        "appointment", "employee", "start", "end")
    with speaking("de"):
        assert (kind_name("appointment"), kind_name("employee"), moment_name("start"), moment_name("end")) == (
            "Termin", "Mitarbeiter", "Beginn", "Ende")
        assert kind_name("Eintrag 2 der Mitarbeiterliste") == "Eintrag 2 der Mitarbeiterliste"


def test_a_value_is_shown_by_its_type_and_an_excerpt_cut_at_40_characters():
    assert shown(1.5) == "a float (1.5)"
    assert shown("x" * 50) == f"a str ('{'x' * 39}...)"
    with speaking("de"):
        assert shown([1]) == "vom Typ list ([1])"


def test_an_unforeseen_error_is_named_by_its_type_and_first_80_characters():
    assert unreadable(KeyError("k" * 100)) == f"unreadable record (KeyError: '{'k' * 79})"
    with speaking("de"):
        assert unreadable(TypeError("boom")) == "unlesbarer Datensatz (TypeError: boom)"
