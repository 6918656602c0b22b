"""Office365CalendarSyncOperator: openHandwerk appointments -> the mapped users' Outlook calendars."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import BaseOperator

from oh_outlook_provider.exceptions import OhOutlookError
from oh_outlook_provider.i18n import _
from oh_outlook_provider.operators.arguments import (
    flag,
    kind_map,
    map_link,
    mapping_of,
    minutes,
    names_of,
    text_map,
    window_of,
)
from oh_outlook_provider.operators.failures import task_failure
from oh_outlook_provider.runners.log_lines import wrapped
from oh_outlook_provider.sync.render import MAP_URL
from oh_outlook_provider.sync.selection import Selection
from oh_outlook_provider.version_compat import AirflowException, AirflowFailException

__all__ = ["Office365CalendarSyncOperator", "mapping_of"]


# The operator's arguments that shape what is written (the fleet's registry gives the same names per tenant).
ARGUMENTS = ("calendar_name", "on_outlook_edit", "max_delete_fraction", "allow_mass_delete", "dry_run", "max_workers",
             "category_map", "categories", "category_colors", "reminder_minutes", "show_as_map", "sensitivity_map",
             "include_categories", "exclude_categories", "include_statuses", "exclude_statuses", "map_url")

def arguments_of(source: Any) -> dict[str, Any]:
    """`ARGUMENTS` from an operator (its attributes, as given) or a mapping (a tenant's options; a key it
    lacks takes the operator's default, read from its signature)."""
    if not isinstance(source, Mapping):
        return {name: getattr(source, name) for name in ARGUMENTS}
    defaults = inspect.signature(Office365CalendarSyncOperator.__init__).parameters
    return {name: source[name] if name in source else defaults[name].default for name in ARGUMENTS}


def selection_of(arguments: Mapping[str, Any]) -> Selection:
    """Which appointments go to Outlook; `ConfigurationError` for a list that is not one."""
    return Selection.of(names_of(arguments["include_categories"], "include_categories"),
                        names_of(arguments["exclude_categories"], "exclude_categories"),
                        names_of(arguments["include_statuses"], "include_statuses"),
                        names_of(arguments["exclude_statuses"], "exclude_statuses"))


def kind_maps_of(arguments: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(showAs, sensitivity, colour) maps over their defaults; `ConfigurationError` names a value Outlook lacks."""
    from oh_outlook_provider.sync.categories import COLOR_DEFAULTS
    from oh_outlook_provider.sync.event_kinds import SENSITIVITY_DEFAULTS, SHOW_AS_DEFAULTS

    return (kind_map(arguments["show_as_map"], SHOW_AS_DEFAULTS, "freeBusyStatus", "showAs"),
            kind_map(arguments["sensitivity_map"], SENSITIVITY_DEFAULTS, "sensitivity", "sensitivity"),
            kind_map(arguments["category_colors"], COLOR_DEFAULTS, "categoryColor", "category colour"))


def sync_options(graph: Any, openhandwerk: Any, window: Any, arguments: Mapping[str, Any], run_id: str,
                 mailboxes: Any = None) -> Any:
    """The engine's `SyncOptions` from the operator's (or a tenant's) `arguments` and the two hooks'
    settings; `ConfigurationError` for a wrong value."""
    from oh_outlook_provider.runners.calendar_sync import SyncOptions
    from oh_outlook_provider.sync.plan import PlanPolicy
    from oh_outlook_provider.sync.render import RenderOptions
    from oh_outlook_provider.sync.tags import source_id

    show_as, sensitivity, colors = kind_maps_of(arguments)
    return SyncOptions(
        window=window,
        source=source_id(openhandwerk.settings.id_kn),
        zone=openhandwerk.settings.timezone,
        calendar_name=arguments["calendar_name"] or graph.settings.calendar_name,
        policy=PlanPolicy(arguments["on_outlook_edit"], arguments["max_delete_fraction"],
                          arguments["allow_mass_delete"]),
        render=RenderOptions(web_url=openhandwerk.settings.web_url,
                             category_map=text_map(arguments["category_map"], "category_map"),
                             categories=flag(arguments["categories"]), reminder_minutes=arguments["reminder_minutes"],
                             show_as_map=show_as, sensitivity_map=sensitivity, map_url=map_link(arguments["map_url"])),
        selection=selection_of(arguments),
        category_colors=colors,
        dry_run=flag(arguments["dry_run"]),
        max_workers=arguments["max_workers"],
        salt=run_id,
        mailboxes=frozenset(mailboxes) if mailboxes else None,
    )


class Office365CalendarSyncOperator(BaseOperator):
    """Writes the appointments starting in a window into the mapped employees' calendars.

    Idempotent: reruns converge to the same calendars with no duplicates. Only events tagged
    with this openHandwerk account are changed or deleted; attendees are never written.

    :param office365_conn_id: connection of type ``office365`` (the Entra app registration).
    :param openhandwerk_conn_id: connection of type ``openhandwerk``.
    :param mapping: the mapping operator's result (XComArg) or its ``mapping`` dict.
    :param appointments: the run's one openHandwerk read (``OpenHandwerkAppointmentsOperator``'s
        output); its window is used. ``None``: this task reads its own window from openHandwerk.
    :param window_start: start of an explicit window; default the run's data interval,
        else now - ``past``. (templated)
    :param window_end: end of an explicit window; default the data interval's end, else now + ``future``. (templated)
    :param calendar_name: target calendar, created when missing; empty = the default calendar (also a
        connection field). (templated)
    :param on_outlook_edit: what to do with an event edited in Outlook: ``overwrite``, ``keep`` or ``fail``. (templated)
    :param max_delete_fraction: the mass-delete guard refuses to delete more than this share of our
        events in a mailbox.
    :param allow_mass_delete: let this run delete past the guard (after openHandwerk really lost appointments).
    :param dry_run: plan and report, write nothing. (templated)
    :param max_workers: mailboxes synced at once by this task (Graph limits each mailbox, not how many).
    :param past: rolling window's reach back (timedelta, days or ISO duration). (templated)
    :param future: rolling window's reach ahead. (templated)
    :param mailboxes: only these user ids (a shard, for dynamic task mapping). (templated)
    :param category_map: openHandwerk category -> Outlook category name; categories it does not name keep
        their own name, ``""`` writes none. A dict or JSON. (templated)
    :param categories: ``False`` writes no categories at all. (templated)
    :param category_colors: Outlook category -> colour (``preset0`` ... ``preset24``, ``none``) over the
        defaults (Baustelle orange, Urlaub green, ...); used when the app has the optional permission
        MailboxSettings.ReadWrite to add missing categories to each mailbox's list. (templated)
    :param reminder_minutes: reminder before timed events; ``None`` for none.
    :param show_as_map: openHandwerk category -> Outlook free/busy (``free``, ``tentative``, ``busy``,
        ``oof``, ``workingElsewhere``), over the defaults Urlaub/Krank -> ``oof``; others ``busy``.
        A dict or JSON. (templated)
    :param sensitivity_map: category -> ``normal``, ``personal``, ``private`` or ``confidential``, over
        the defaults Urlaub/Krank/Arzt -> ``private``; others ``normal``. A dict or JSON. (templated)
    :param include_categories: only appointments of these categories go to Outlook; ``None`` = all.
        A list or "a, b". (templated)
    :param exclude_categories: appointments of these categories stay out (e.g. internal types). (templated)
    :param include_statuses: only appointments with these openHandwerk statuses; ``None`` = all. (templated)
    :param exclude_statuses: appointments with these statuses stay out (e.g. tentative offers). An
        appointment left out that was synced before is deleted like a cancelled one, under the
        mass-delete guards. Cancelled appointments never go. (templated)
    :param map_url: route link written into the body of appointments with an address; ``{query}`` is
        the address. Default Google Maps (opens the maps app on phones); ``""`` for none. (templated)
    """

    template_fields: Sequence[str] = (
        "mapping", "appointments", "window_start", "window_end", "calendar_name", "mailboxes", "past", "future", "dry_run",
        "on_outlook_edit", "show_as_map", "sensitivity_map", "include_categories", "exclude_categories",
        "include_statuses", "exclude_statuses", "map_url", "category_map", "categories", "category_colors",
    )
    ui_color = "#dcfce7"

    def __init__(
        self,
        *,
        office365_conn_id: str = "office365_default",
        openhandwerk_conn_id: str = "openhandwerk_default",
        mapping: Any,
        appointments: Any = None,
        window_start: Any = None,
        window_end: Any = None,
        calendar_name: str | None = None,
        on_outlook_edit: str = "overwrite",
        max_delete_fraction: float = 0.5,
        allow_mass_delete: bool = False,
        dry_run: bool = False,
        max_workers: int = 32,
        past: dt.timedelta | float | str = dt.timedelta(days=7),
        future: dt.timedelta | float | str = dt.timedelta(days=90),
        mailboxes: Any = None,
        category_map: Mapping[str, str] | str | None = None,
        categories: bool | str = True,
        category_colors: Mapping[str, str] | str | None = None,
        reminder_minutes: int | None = 15,
        show_as_map: Mapping[str, str] | str | None = None,
        sensitivity_map: Mapping[str, str] | str | None = None,
        include_categories: Sequence[str] | str | None = None,
        exclude_categories: Sequence[str] | str | None = None,
        include_statuses: Sequence[str] | str | None = None,
        exclude_statuses: Sequence[str] | str | None = None,
        map_url: str | None = MAP_URL,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from oh_outlook_provider.sync.plan import PlanPolicy

        if "{{" not in str(on_outlook_edit):  # fail at parse time on bad values
            PlanPolicy(on_outlook_edit, max_delete_fraction, allow_mass_delete)
        self.office365_conn_id = office365_conn_id
        self.openhandwerk_conn_id = openhandwerk_conn_id
        self.mapping = mapping
        self.appointments = appointments
        self.window_start = window_start
        self.window_end = window_end
        self.calendar_name = calendar_name
        self.on_outlook_edit = on_outlook_edit
        self.max_delete_fraction = max_delete_fraction
        self.allow_mass_delete = allow_mass_delete
        self.dry_run = dry_run
        self.max_workers = max_workers
        self.past = past
        self.future = future
        self.mailboxes = mailboxes
        self.category_map = category_map
        self.categories = categories
        self.category_colors = category_colors
        self.reminder_minutes = reminder_minutes
        self.show_as_map = show_as_map
        self.sensitivity_map = sensitivity_map
        self.include_categories = include_categories
        self.exclude_categories = exclude_categories
        self.include_statuses = include_statuses
        self.exclude_statuses = exclude_statuses
        self.map_url = map_url
        if not any("{{" in str(given) for given in (show_as_map, sensitivity_map, category_colors)):
            self._kind_maps()  # fail at parse time on a value Outlook does not know
        if not any("{{" in str(given) for given in (include_categories, exclude_categories, include_statuses,
                                                    exclude_statuses, map_url, category_map)):
            self._selection()
            map_link(map_url)
            text_map(category_map, "category_map")

    def _selection(self) -> Selection:
        return selection_of(arguments_of(self))

    def _kind_maps(self) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        return kind_maps_of(arguments_of(self))

    def window(self, context: Mapping[str, Any]) -> Any:
        return window_of(context, self.window_start, self.window_end, self.past, self.future)

    def execute(self, context: Any) -> dict:
        from oh_outlook_provider.assets import announce
        from oh_outlook_provider.hooks.office365 import Office365Hook
        from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook
        from oh_outlook_provider.runners.appointments import Snapshot
        from oh_outlook_provider.runners.calendar_sync import CalendarSync
        from oh_outlook_provider.runners.report import every_mailbox_refused, failed_mailboxes, summary_table

        graph = Office365Hook(self.office365_conn_id)
        openhandwerk = OpenHandwerkHook(self.openhandwerk_conn_id)
        try:
            mapping = mapping_of(self.mapping)
            snapshot = Snapshot.of(self.appointments) if self.appointments else None
            window = snapshot.window if snapshot else self.window(context)
            options = sync_options(graph, openhandwerk, window, arguments_of(self),
                                   str(context.get("run_id") or "manual"), self.mailboxes)
            zone = ZoneInfo(openhandwerk.settings.timezone)
            self.log.info("Syncing appointments starting %s to %s (%s)%s", minutes(window.start, zone),
                          minutes(window.end, zone), zone.key, " - dry run: nothing is written" if options.dry_run else "")
            summary = CalendarSync(graph, openhandwerk, mapping, options,
                                   snapshot.appointments if snapshot else None).run()
        except OhOutlookError as exc:
            raise task_failure(exc) from None
        counts = (f"{summary['appointments']} appointment(s) in the window: {summary['cancelled']} cancelled, "
                  f"{summary['excluded']} left out by the selection, {summary['without_mapped_attendee']} without "
                  "a mapped employee")
        # One message, its lines at most log_lines.WIDTH: the log view does not wrap.
        self.log.info("Calendar sync:\n%s", "\n".join([*wrapped(counts), summary_table(summary)]))
        for note in summary["notes"]:
            self.log.info("Note:\n%s", "\n".join(wrapped(note)))
        refused = every_mailbox_refused(summary)
        if refused is not None:  # nothing was synced: the run must not look green; retries cannot help
            raise AirflowFailException(_("Every mailbox was refused, nothing was synced; first: {error}").format(
                error=refused))
        announce(context, self.outlets, summary["totals"], summary["window"], summary["appointments"])
        if summary["failed"]:
            ti = context.get("ti")
            if ti is not None:
                ti.xcom_push(key="summary", value=summary)
            raise AirflowException(f"{len(summary['failed'])} mailbox(es) failed after all others were synced: "
                                   f"{failed_mailboxes(summary)}")
        return summary

