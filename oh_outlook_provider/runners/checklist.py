"""The checklist itself: its steps, their statuses, the verdict, the log table and the Test's summary.

`runners/setup_check.py` (Office 365) and `runners/openhandwerk_check.py` fill it; the connection's Test,
`airflow connections test` and the setup DAG (`log_checklist`) show it. Texts come in already translated
(``[oh_outlook] language``); the table fits Airflow's log view (`WIDTH` characters a line).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field, replace
from typing import Any

from oh_outlook_provider.exceptions import OhOutlookError
from oh_outlook_provider.hooks.settings import as_test_result
from oh_outlook_provider.i18n import _
from oh_outlook_provider.runners.log_lines import WIDTH

OK, FAILED, WARNING, OPTIONAL, NOT_CHECKED = "ok", "failed", "warning", "optional", "not checked"


@dataclass(frozen=True)
class Step:
    """One line of the checklist: `title` and `guide` (where in the guide) and `detail` (what was
    found, the fix, or why it was not checked) are already in the admin's language."""

    key: str
    title: str
    guide: str
    status: str
    detail: str
    required: bool = True


@dataclass(frozen=True)
class Checklist:
    """The steps of one connection, in the guide's order."""

    service: str
    steps: tuple[Step, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not any(s.status == FAILED and s.required for s in self.steps)

    @property
    def first_failed(self) -> Step | None:
        return next((s for s in self.steps if s.status == FAILED), None)

    def number(self, step: Step) -> int:
        return self.steps.index(step) + 1

    def verdict(self) -> str:
        """One sentence for the Test toast: OK with the count, or the first failed step with its fix."""
        failed = self.first_failed
        if failed is None:
            warnings = [s for s in self.steps if s.status == WARNING]
            unchecked = [s for s in self.steps if s.status == NOT_CHECKED]
            if unchecked:  # "all checked" would claim what was not: name the steps it could not check
                verdict = _("Connection OK: {checked} of {count} steps of the setup checked ({unchecked} could not "
                            "be: {steps}), {warnings} warning(s).").format(
                    checked=len(self.steps) - len(unchecked), count=len(self.steps), unchecked=len(unchecked),
                    steps=", ".join(f"{self.number(s)} '{s.title}'" for s in unchecked), warnings=len(warnings))
            else:
                verdict = _("Connection OK: all {count} steps of the setup checked, {warnings} warning(s).").format(
                    count=len(self.steps), warnings=len(warnings))
            if warnings:
                verdict += " " + _("Check {n} '{title}': {detail}").format(
                    n=self.number(warnings[0]), title=warnings[0].title, detail=warnings[0].detail)
            return verdict
        return _("Setup incomplete: check {n} '{title}' failed ({guide}): {detail}").format(
            n=self.number(failed), title=failed.title, guide=failed.guide, detail=failed.detail)

    def table(self) -> list[str]:
        """The numbered checklist as lines of at most 100 characters (Airflow's log view)."""
        lines = [_("Setup check: {service}").format(service=self.service)]
        for n, step in enumerate(self.steps, 1):
            lines.append(f"{n:>2}. {status_label(step.status):<14} {step.title}"[:WIDTH])
            text = f"{step.detail} [{step.guide}]" if step.guide else step.detail
            for paragraph in text.splitlines():  # a detail of several lines (one per wrong value) keeps them
                lines.extend(textwrap.wrap(paragraph, WIDTH, initial_indent=" " * 19, subsequent_indent=" " * 19,
                                           break_on_hyphens=False))  # "App-Registrierungen" stays whole
        return lines

    def in_the_form(self, conn_id: str | None) -> Checklist:
        """The same steps with the connection called "this connection" (see `for_the_form`)."""
        return replace(self, steps=tuple(replace(s, detail=for_the_form(s.detail, conn_id)) for s in self.steps))

    def summary(self) -> str:
        """The verdict, then one short line per step (number, status, title): the connection's Test, whose
        toast has room for little more; the setup DAG's log shows every step with its detail (`table`)."""
        last = len(self.steps)  # ';' between the steps: the toast shows them as one paragraph
        return "\n".join([self.verdict()] + [f"{n:>2}. {status_label(s.status)} {s.title}{';' if n < last else ''}"
                                              for n, s in enumerate(self.steps, 1)])

    def report(self) -> str:
        """Verdict, then the full table: the text of the setup DAG's task log, in one string."""
        return self.verdict() + "\n" + "\n".join(self.table())


def for_the_form(text: str, conn_id: str | None) -> str:
    """The form's Test checks a copy of the connection under a random id (e.g. 'jbAt6RMJ'): there
    the admin is looking at the connection, so it is "this connection" (hooks/settings.as_test_result,
    in the admin's language too)."""
    if not conn_id:
        return text
    text = as_test_result(text, conn_id)
    return text.replace(_("Airflow connection '{conn_id}'").format(conn_id=conn_id), _("this connection")).replace(
        _("connection '{conn_id}'").format(conn_id=conn_id), _("this connection"))


def status_label(status: str) -> str:
    return {OK: _("OK"), FAILED: _("FAILED"), WARNING: _("WARNING"), OPTIONAL: _("OPTIONAL"),
            NOT_CHECKED: _("NOT CHECKED")}[status]


def connections_page(service: str) -> str:
    """Where in Airflow's UI the admin corrects the connection of `service`, in the admin's language."""
    return _("Airflow > Admin > Connections > {service}").format(service=service)


def values_step(failure: OhOutlookError, service: str) -> Step:
    """Line 1 when the connection's values themselves are wrong (hooks/connection_values.py: one line per
    wrong field): nothing further can be checked, so nothing further is claimed."""
    return Step("values", _("Connection values"), connections_page(service),
                FAILED, str(failure))


def log_checklist(checklist: Checklist, log: Any) -> dict[str, str]:
    """Print the numbered table in the task log, then the verdict; return {step key: status} (the
    task's XCom). Raises AirflowFailException (no retry: the admin must act) when a required step failed."""
    from oh_outlook_provider.version_compat import AirflowFailException  # only when a task runs: the setup DAG

    for text in checklist.table():
        log.info("%s", text)
    (log.info if checklist.ok else log.error)("%s", checklist.verdict())
    if not checklist.ok:
        failed = checklist.first_failed
        raise AirflowFailException(_("Setup check of {service} failed at check {n}: {title}").format(
            service=checklist.service, n=checklist.number(failed), title=failed.title))
    return {step.key: step.status for step in checklist.steps}
