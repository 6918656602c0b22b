"""The version matrix reads pytest's verdict and reports every line, failing when any line fails."""

from __future__ import annotations

from devtools.matrix import LINES, RELEASED, Result, counts, table


def test_pytests_closing_line_is_read_whatever_it_holds():
    assert counts("3 failed, 601 passed, 1 skipped, 2 errors in 60.1s") == {
        "failed": 3, "passed": 601, "skipped": 1, "errors": 2}
    assert counts("608 passed, 1 warning in 29.6s (0:00:29)") == {"passed": 608}
    assert counts("no tests ran in 0.01s") == {}


def test_a_line_is_ok_only_with_tests_passed_and_none_failed():
    assert Result("3.2", "3.2.2", passed=10).ok
    assert not Result("3.2", "3.2.2", passed=10, errors=1).ok
    assert not Result("3.2", "3.2.2").ok  # no test ran: not a pass
    assert not Result("3.0", "3.0.6", passed=10, note="provider not discovered").ok
    rows = table([Result("3.0", "3.0.6", 12.5, 60.0, passed=600), Result("3.1", "3.1.8", note="install failed")])
    assert "3.0.6" in rows and rows.splitlines()[2].endswith("ok") and rows.splitlines()[3].endswith("install failed")


def test_every_line_resolves_as_of_its_release():
    assert set(RELEASED) == set(LINES) and all(len(day) == 10 for day in RELEASED.values())
