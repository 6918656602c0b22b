"""OpenHandwerkAppointmentsOperator: the run's one openHandwerk read, shared by every sync shard."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import BaseOperator

from oh_outlook_provider.exceptions import OhOutlookError
from oh_outlook_provider.operators.arguments import minutes, window_of
from oh_outlook_provider.operators.failures import task_failure
from oh_outlook_provider.runners.log_lines import rejected_lines


class OpenHandwerkAppointmentsOperator(BaseOperator):
    """Reads the appointments starting in the window once and stores them for the run's shards.

    Without it, N mapped sync tasks read the same window N times and each reports the same
    rejected records. The appointments go to a file in object storage (see
    ``oh_outlook_provider.runners.appointments`` for why not XCom); XCom carries a descriptor
    that ``Office365CalendarSyncOperator(appointments=...)`` takes. Rejected records are logged
    and counted here, once per run.

    :param openhandwerk_conn_id: connection of type ``openhandwerk``.
    :param window_start: start of an explicit window; default the run's data interval, else
        now - ``past``. (templated)
    :param window_end: end of an explicit window; default the data interval's end, else now + ``future``. (templated)
    :param past: rolling window's reach back (timedelta or days). (templated)
    :param future: rolling window's reach ahead (timedelta or days). (templated)
    :param snapshot_base: where the files go, an object storage URL such as
        ``s3://aws_default@bucket/oh-outlook`` or ``file:///shared/oh-outlook``; default the
        environment variable ``OH_OUTLOOK_SNAPSHOT_BASE``, else ``$AIRFLOW_HOME/oh_outlook/snapshots``.
        Every worker must reach it. (templated)
    :param keep_for: files of this DAG's runs older than this are deleted by later runs (a cleared
        shard of a recent run still finds its file).
    """

    template_fields: Sequence[str] = ("window_start", "window_end", "past", "future", "snapshot_base")
    ui_color = "#fef3c7"

    def __init__(
        self,
        *,
        openhandwerk_conn_id: str = "openhandwerk_default",
        window_start: Any = None,
        window_end: Any = None,
        past: dt.timedelta | float | str = dt.timedelta(days=7),
        future: dt.timedelta | float | str = dt.timedelta(days=90),
        snapshot_base: str | None = None,
        keep_for: dt.timedelta = dt.timedelta(days=7),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.openhandwerk_conn_id = openhandwerk_conn_id
        self.window_start = window_start
        self.window_end = window_end
        self.past = past
        self.future = future
        self.snapshot_base = snapshot_base
        self.keep_for = keep_for

    def execute(self, context: Mapping[str, Any]) -> dict:
        from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook
        from oh_outlook_provider.runners import appointments as snapshots

        openhandwerk = OpenHandwerkHook(self.openhandwerk_conn_id)
        try:
            window = window_of(context, self.window_start, self.window_end, self.past, self.future)
            zone = ZoneInfo(openhandwerk.settings.timezone)
            self.log.info("Reading appointments starting %s to %s (%s)", minutes(window.start, zone),
                          minutes(window.end, zone), zone.key)
            base = snapshots.base_path(self.snapshot_base)
            path = snapshots.run_path(base, self.dag_id, str(context.get("run_id") or "manual"))
            descriptor = snapshots.write(path, window, openhandwerk.iter_appointments(window.start, window.end))
            pruned = snapshots.prune(path.parent, self.keep_for, keep=path)
        except OhOutlookError as exc:
            raise task_failure(exc) from None
        self.log.info("%d appointments (%d bytes compressed) in %s; %d request(s) to openHandwerk%s",
                      descriptor["appointments"], descriptor["bytes"], path, openhandwerk.requests_made,
                      f"; {pruned} old file(s) deleted" if pruned else "")
        if descriptor["rejected_total"]:
            self.log.warning("%d openHandwerk record(s) rejected (each left out, the others synced):\n%s",
                             descriptor["rejected_total"], "\n".join(rejected_report(descriptor)))
        return descriptor


def rejected_report(descriptor: Mapping[str, Any]) -> list[str]:
    """The read's rejected records (the first ones; the count says how many the file-less list left out)."""
    shown = descriptor.get("rejected", [])
    more = descriptor.get("rejected_total", 0) - len(shown)
    return rejected_lines(shown) + ([f"... and {more} more"] if more > 0 else [])
