"""The checklist's own behaviour: statuses, the verdict, the log table (width, one line per wrong value),
the Test's summary and the task's failure."""

from __future__ import annotations

import logging

import pytest

from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.runners import checklist as cl
from oh_outlook_provider.runners.log_lines import WIDTH
from oh_outlook_provider.version_compat import AirflowFailException


def steps(*statuses: str) -> tuple[cl.Step, ...]:
    return tuple(cl.Step(f"k{n}", f"Title {n}", f"guide: step {n}", status, f"detail {n}", required=True)
                 for n, status in enumerate(statuses, 1))


def test_ok_counts_every_step_and_names_the_first_warning():
    checklist = cl.Checklist("Office 365", steps(cl.OK, cl.WARNING, cl.OPTIONAL))
    assert checklist.ok and checklist.first_failed is None
    assert checklist.verdict() == ("Connection OK: all 3 steps of the setup checked, 1 warning(s). "
                                   "Check 2 'Title 2': detail 2")


def test_ok_with_a_step_not_checked_says_how_many_were_checked_not_all():
    checklist = cl.Checklist("Office 365", steps(cl.OK, cl.NOT_CHECKED, cl.OK, cl.NOT_CHECKED))
    assert checklist.ok
    assert checklist.verdict() == ("Connection OK: 2 of 4 steps of the setup checked (2 could not be: "
                                   "2 'Title 2', 4 'Title 4'), 0 warning(s).")


def test_the_verdict_names_the_first_failed_step_with_its_guide_and_detail():
    checklist = cl.Checklist("Office 365", steps(cl.OK, cl.FAILED, cl.FAILED))
    assert not checklist.ok and checklist.number(checklist.first_failed) == 2
    assert checklist.verdict() == "Setup incomplete: check 2 'Title 2' failed (guide: step 2): detail 2"


def test_a_failed_optional_step_does_not_fail_the_checklist():
    optional = cl.Step("opt", "Optional", "", cl.FAILED, "not there", required=False)
    assert cl.Checklist("x", (*steps(cl.OK), optional)).ok


def test_the_values_step_keeps_one_table_line_per_wrong_field_within_the_log_width():
    error = ConfigurationError("Connection 'o365': 2 value(s) to correct.\n'Request timeout (seconds)': 'abc' is not "
                               "allowed. Allowed: a number of seconds above 0.\n'National cloud': 'mars' is not allowed.")
    checklist = cl.Checklist("Office 365", (cl.values_step(error, "Office 365"),))
    table = checklist.table()
    assert table[1].startswith(" 1. FAILED") and table[1].endswith("Connection values")
    assert table[2].strip().startswith("Connection 'o365': 2 value(s)")
    assert table[3].strip().startswith("'Request timeout (seconds)'")
    assert any(line.strip().startswith("'National cloud'") for line in table[4:])
    assert max(len(line) for line in table) <= WIDTH


def test_the_summary_has_the_verdict_then_one_line_per_step():
    summary = cl.Checklist("x", steps(cl.OK, cl.NOT_CHECKED)).summary().splitlines()
    assert summary[1:] == [" 1. OK Title 1;", " 2. NOT CHECKED Title 2"]


def test_the_task_fails_without_retry_naming_the_step_and_logs_the_table(caplog):
    log = logging.getLogger("checklist-test")
    with caplog.at_level(logging.INFO, "checklist-test"):
        assert cl.log_checklist(cl.Checklist("x", steps(cl.OK)), log) == {"k1": cl.OK}
        with pytest.raises(AirflowFailException, match="Setup check of x failed at check 2: Title 2"):
            cl.log_checklist(cl.Checklist("x", steps(cl.OK, cl.FAILED)), log)
    assert " 2. FAILED" in caplog.text and "Setup incomplete" in caplog.text


def test_the_form_calls_the_random_test_id_this_connection():
    assert cl.for_the_form("Connection 'jbAt6RMJ' is missing: x.", "jbAt6RMJ") == "This connection is missing: x."
