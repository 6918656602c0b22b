"""`make demo`'s printed tables (devtools/demo.py)."""

from __future__ import annotations

from devtools.demo import print_sync

REASON = ("Zugriff auf das Postfach 47378190-96da-4dac-b2ff-5d2a386ecbe0 verweigert: eine Anwendungszugriffsrichtlinie "
          "sperrt es (ErrorAccessDenied). Nehmen Sie das Postfach in die Richtlinie auf.")


def test_a_skipped_mailbox_shows_its_whole_reason_not_a_cut_one(capsys):
    print_sync("Backfill", {"totals": {"create": 1}, "rejected": [], "mailboxes": {
        "u1": {"upn": "soeren.weiss@example.de", "status": "skipped", "counts": {}, "error": REASON},
        "u2": {"upn": "anna@example.de", "status": "ok", "counts": {"create": 1}},
    }})
    out = capsys.readouterr().out
    assert REASON in out and "..." not in out
    lines = out.splitlines()
    assert lines.index(next(line for line in lines if "soeren.weiss" in line)) + 1 == \
        lines.index(next(line for line in lines if REASON in line))  # right under its mailbox
