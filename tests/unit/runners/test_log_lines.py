"""Lines for Airflow's task log view: at most WIDTH characters, one message per rejected record."""

from __future__ import annotations

from oh_outlook_provider.runners.log_lines import WIDTH, rejected_lines, wrapped


def test_long_messages_wrap_at_the_width_with_indented_continuations():
    text = " ".join(f"word{i}" for i in range(60))
    lines = wrapped(text)
    assert len(lines) > 1 and all(len(line) <= WIDTH for line in lines)
    assert all(line.startswith("    ") for line in lines[1:]) and not lines[0].startswith(" ")
    assert " ".join(line.strip() for line in lines) == text


def test_a_short_message_is_one_line_and_an_empty_one_none():
    assert wrapped("synced") == ["synced"]
    assert wrapped("") == []


def test_rejected_lines_name_the_record_the_mailbox_if_any_and_the_reason():
    lines = rejected_lines([{"record_id": "T-1", "reason": "no start"},
                            {"record_id": "T-2", "mailbox": "jan@firma.de", "reason": "subject too long"},
                            {"record_id": "T-3", "mailbox": None, "reason": "x " * 80}])
    assert lines[0] == "rejected appointment T-1: no start"
    assert lines[1] == "rejected appointment T-2 (jan@firma.de): subject too long"
    assert lines[2].startswith("rejected appointment T-3: x x") and len(lines) > 3
    assert all(len(line) <= WIDTH for line in lines)
    assert rejected_lines([]) == []


def test_rejected_lines_speak_german_when_the_setting_says_so(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    lines = rejected_lines([{"record_id": "T-1", "reason": "r"}, {"record_id": "T-2", "mailbox": "jan@firma.de",
                                                                  "reason": "r"}])
    assert lines == ["abgewiesener Termin T-1: r", "abgewiesener Termin T-2 (jan@firma.de): r"]
