"""The version matrix reads pytest's verdict and reports every line, failing when any line fails."""

from __future__ import annotations

from devtools.matrix import BROWSER_TEST, E2E, LINES, RELEASED, Result, browser_verdict, counts, table


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
    assert not Result("3.0", "3.0.6", passed=10, browser="failed").ok
    rows = table([Result("3.0", "3.0.6", 12.5, 60.0, passed=600), Result("3.1", "3.1.8", note="install failed")])
    assert "3.0.6" in rows and rows.splitlines()[2].endswith("ok") and rows.splitlines()[3].endswith("install failed")


def test_every_line_resolves_as_of_its_release():
    assert set(RELEASED) == set(LINES) and all(len(day) == 10 for day in RELEASED.values())


def test_the_browser_checks_outcome_is_read_from_pytests_report(tmp_path):
    report = tmp_path / "report.xml"
    assert browser_verdict(report) == "not run"
    case = f'<testcase classname="tests.e2e.test_legacy_form_browser" name="{BROWSER_TEST}" time="47.6">'
    for inner, verdict in (("", "ok 48s"), ('<failure message="x"/>', "failed"), ('<skipped message="y"/>', "skipped")):
        report.write_text(f'<testsuites><testsuite><testcase name="test_other"/>{case}{inner}</testcase>'
                          '</testsuite></testsuites>')
        assert browser_verdict(report) == verdict
    assert "ok 48s" in table([Result("3.0", "3.0.6", 1, 2, passed=3, browser="ok 48s")])


def test_the_older_lines_e2e_tests_exist():
    """The matrix names single tests of tests/e2e: a renamed test must not silently drop out of it."""
    import ast
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "e2e" / "test_airflow.py"
    names = {node.name for node in ast.walk(ast.parse(source.read_text())) if isinstance(node, ast.FunctionDef)}
    assert {path.rsplit("::", 1)[1].split("[")[0] for path in E2E} <= names and len(E2E) == 8
