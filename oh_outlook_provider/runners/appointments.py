"""One openHandwerk read per DAG run: the window's appointments as a file in object storage.

Why a file and not XCom: a tenant with 100,000 appointments is tens of megabytes of JSON; XCom
rows live in the metadata database, which every scheduler loop reads. Airflow's object storage
(`ObjectStoragePath`) puts the file where the workers can all reach it: `file://` on one machine
or a shared volume, `s3://aws_default@bucket/prefix` (or gs://, abfs://) across machines. Only a
small descriptor (path, window, counts, the first rejected records) travels through XCom.

The file is gzip-compressed JSON lines: a header, then one appointment per line, so a shard
streams it without holding the tenant in memory twice. Base location: the `snapshot_base`
argument, else the environment variable OH_OUTLOOK_SNAPSHOT_BASE, else
`$AIRFLOW_HOME/oh_outlook/snapshots`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airflow.sdk import ObjectStoragePath

from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.i18n import _
from oh_outlook_provider.sync.codec import (
    FORMAT,
    appointment_from,
    appointment_record,
    rejected_record,
    window_from,
    window_record,
)
from oh_outlook_provider.sync.models import Appointment, Rejected, Window

BASE_ENV = "OH_OUTLOOK_SNAPSHOT_BASE"
REJECTED_IN_XCOM = 200  # the report lists these; the file holds every one


def base_path(configured: str | None = None) -> ObjectStoragePath:
    text = configured or os.environ.get(BASE_ENV)
    if not text:
        home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
        text = f"file://{home}/oh_outlook/snapshots"
    return ObjectStoragePath(text)


def run_path(base: ObjectStoragePath, dag_id: str, run_id: str) -> ObjectStoragePath:
    """One file per DAG run; run ids carry ':' and '+', which some stores dislike."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", run_id)
    return base / dag_id / f"{safe}.jsonl.gz"


@dataclass(frozen=True)
class Snapshot:
    """What a shard needs from the run's read: where the file is and which window it covers."""

    path: ObjectStoragePath
    window: Window

    @classmethod
    def of(cls, descriptor: Any) -> Snapshot:
        if not isinstance(descriptor, Mapping) or descriptor.get("format") != FORMAT:
            raise ConfigurationError("appointments must be the read_appointments task's output "
                                     f"(a descriptor of format {FORMAT}), got {type(descriptor).__name__}")
        path = ObjectStoragePath(descriptor["path"], conn_id=descriptor.get("conn_id"))
        return cls(path, window_from(descriptor["window"]))

    def appointments(self) -> Iterator[Appointment]:
        try:
            raw = self.path.open("rb")
        except FileNotFoundError:
            raise ConfigurationError(_("the run's appointment file {path} is gone (pruned?): clear the "
                                       "read_appointments task together with this one").format(path=self.path)) from None
        with raw, gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            lines = io.TextIOWrapper(unzipped, encoding="utf-8")
            header = json.loads(next(lines))
            if header.get("format") != FORMAT:
                raise ConfigurationError(f"{self.path} is not an appointment file of format {FORMAT}")
            for line in lines:
                yield appointment_from(json.loads(line))


def write(path: ObjectStoragePath, window: Window, records: Iterable[Appointment | Rejected]) -> dict[str, Any]:
    """Stream the records into `path`; returns the XCom descriptor. Rejected records stay out of
    the file (the shards have nothing to do with them) and are counted once, here."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count, rejected, total_rejected = 0, [], 0
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=5) as zipped:
        zipped.write(json.dumps({"format": FORMAT, "window": window_record(window)}).encode() + b"\n")
        for record in records:
            if isinstance(record, Rejected):
                total_rejected += 1
                if len(rejected) < REJECTED_IN_XCOM:
                    rejected.append(rejected_record(record))
                continue
            zipped.write(json.dumps(appointment_record(record), ensure_ascii=False).encode() + b"\n")
            count += 1
            for part in record.dropped_parts():  # the file keeps the valid rest; the shards never see the part
                total_rejected += 1
                if len(rejected) < REJECTED_IN_XCOM:
                    rejected.append(rejected_record(part))
    return {
        "format": FORMAT, "path": str(path), "conn_id": path.storage_options.get("conn_id"), "window": window_record(window),
        "appointments": count, "rejected": rejected, "rejected_total": total_rejected,
        "bytes": path.stat().st_size,
    }


def prune(folder: ObjectStoragePath, older_than: dt.timedelta, keep: ObjectStoragePath | None = None,
          now: dt.datetime | None = None) -> int:
    """Delete the files of runs older than `older_than` (a cleared shard of a recent run still finds its
    file); never `keep`, the file the running read has just written."""
    if not folder.exists():
        return 0
    limit = (now or dt.datetime.now(dt.UTC)).timestamp() - older_than.total_seconds()
    removed = 0
    for item in folder.iterdir():
        if item.name.endswith(".jsonl.gz") and item.stat().st_mtime < limit and item.name != getattr(keep, "name", None):
            item.unlink()
            removed += 1
    return removed
