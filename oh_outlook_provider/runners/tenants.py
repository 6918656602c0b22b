"""The tenant registry: which businesses the fleet DAG syncs, as data (an Airflow Variable), not code.

Why a Variable and not a file in the DAG bundle: an integrator adds, pauses or removes a business
from the UI (*Verwaltung > Variablen*), the REST API or the CLI, without a deploy; the Variable can
come from the same secrets backend as the tenants' connections (HashiCorp Vault, Azure Key Vault,
AWS Secrets Manager, Google Secret Manager all serve Variables); and it is read when a run starts,
never while the DAG file is parsed, so the dag-processor's work does not grow with tenants.

The Variable ``oh_outlook_tenants`` holds a JSON list (or ``{"tenants": [...]}``) of tenants::

    [{"key": "mueller", "name": "Müller Haustechnik GmbH"},
     {"key": "schmidt", "name": "Elektro Schmidt", "language": "en", "paused": true,
      "office365_conn_id": "o365_schmidt", "calendar_name": "Einsätze", "mailboxes_per_shard": 25}]

`key` (lower-case letters, digits, ``_``, ``-``) names the tenant's connections unless they are
given: ``office365_<key>`` and ``openhandwerk_<key>``. Without the Variable the registry is the
single business of ``office365_default`` / ``openhandwerk_default``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.i18n import _

VARIABLE = "oh_outlook_tenants"
DEFAULT_KEY = "default"
KEY_PATTERN = "^[a-z0-9][a-z0-9_-]{0,39}$"
NAMES = {"type": ["array", "string", "null"], "items": {"type": "string", "minLength": 1}}
TEXT_MAP = {"type": ["object", "null"], "additionalProperties": {"type": "string"}}
TENANT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["key", "name"],
    "additionalProperties": False,
    "properties": {
        "key": {"type": "string", "pattern": KEY_PATTERN},
        "name": {"type": "string", "minLength": 1, "maxLength": 120},
        "office365_conn_id": {"type": "string", "minLength": 1, "maxLength": 250},
        "openhandwerk_conn_id": {"type": "string", "minLength": 1, "maxLength": 250},
        "paused": {"type": "boolean"},
        "language": {"enum": ["de", "en", None]},
        "calendar_name": {"type": ["string", "null"]},
        "overrides": TEXT_MAP,
        "category_map": TEXT_MAP,
        "show_as_map": TEXT_MAP,
        "sensitivity_map": TEXT_MAP,
        "include_categories": NAMES,
        "exclude_categories": NAMES,
        "include_statuses": NAMES,
        "exclude_statuses": NAMES,
        "on_outlook_edit": {"enum": ["overwrite", "keep", "fail"]},
        "past_days": {"type": "integer", "minimum": 0, "maximum": 365},
        "future_days": {"type": "integer", "minimum": 1, "maximum": 730},
        "mailboxes_per_shard": {"type": "integer", "minimum": 1, "maximum": 10000},
        "min_valid_days": {"type": "integer", "minimum": 0, "maximum": 365},
    },
}


@dataclass(frozen=True)
class Tenant:
    """One business: its display name, its two connections and its options (the registry's entry).

    `problem` is set, and the rest may be defaults, when the entry is wrong: the fleet keeps the
    tenant in its list so that its own task fails with the reason, while every other tenant runs."""

    key: str
    name: str
    office365_conn_id: str
    openhandwerk_conn_id: str
    paused: bool = False
    language: str | None = None
    calendar_name: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)
    category_map: Mapping[str, str] | None = None
    show_as_map: Mapping[str, str] | None = None
    sensitivity_map: Mapping[str, str] | None = None
    include_categories: Any = None
    exclude_categories: Any = None
    include_statuses: Any = None
    exclude_statuses: Any = None
    on_outlook_edit: str = "overwrite"
    past_days: int = 7
    future_days: int = 90
    mailboxes_per_shard: int = 50
    min_valid_days: int = 30
    problem: str | None = None

    @property
    def label(self) -> str:
        """What the UI shows for the tenant's mapped tasks: ``name (key)``, or the key alone."""
        return self.key if self.name == self.key else f"{self.name} ({self.key})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (XCom, task arguments); connection ids only, never a secret."""
        return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tenant:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def default_tenant() -> Tenant:
    """The registry of one: the single business of the default connections."""
    return Tenant(DEFAULT_KEY, DEFAULT_KEY, "office365_default", "openhandwerk_default")


def _entry_label(entry: Any, position: int) -> tuple[str, str]:
    """(key, name) to name an entry by, however broken it is."""
    if isinstance(entry, Mapping):
        key = entry.get("key") if isinstance(entry.get("key"), str) and entry.get("key") else None
        name = entry.get("name") if isinstance(entry.get("name"), str) and entry.get("name") else None
        return key or f"entry-{position}", name or key or _("entry {position}").format(position=position)
    return f"entry-{position}", _("entry {position}").format(position=position)


def _schema_problems(entry: Any) -> list[str]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(TENANT_SCHEMA)
    problems = []
    for error in sorted(validator.iter_errors(entry), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or _("entry")
        problems.append(f"{where}: {error.message}")
    return problems


def parse_registry(data: Any) -> list[Tenant]:
    """Every entry of the registry's JSON (a list, or ``{"tenants": [...]}``) as a `Tenant`, in order.

    A wrong entry (schema, a duplicate key, a connection id another tenant already uses) comes back
    with `problem` naming the fields and the reason; the others are unaffected. Raises
    `ConfigurationError` only when the whole value is unreadable (not JSON, not a list)."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ConfigurationError(_("Variable {name} is not JSON: {error}").format(name=VARIABLE,
                                                                                    error=exc)) from None
    if isinstance(data, Mapping) and isinstance(data.get("tenants"), list):
        data = data["tenants"]
    if not isinstance(data, list):
        raise ConfigurationError(_("Variable {name} must hold a JSON list of tenants (or {{\"tenants\": [...]}}), "
                                   "got {kind}.").format(name=VARIABLE, kind=type(data).__name__))
    tenants: list[Tenant] = []
    keys: set[str] = set()
    connections: dict[str, str] = {}
    for position, entry in enumerate(data, start=1):
        key, name = _entry_label(entry, position)
        problems = _schema_problems(entry)
        fields = dict(entry) if isinstance(entry, Mapping) and not problems else {}
        office365 = str(fields.get("office365_conn_id") or f"office365_{key}")
        openhandwerk = str(fields.get("openhandwerk_conn_id") or f"openhandwerk_{key}")
        if key in keys:
            problems.append(_("key '{key}' is used by an earlier tenant").format(key=key))
            key = f"{key}-{position}"
        for conn_id in (office365, openhandwerk):
            if not problems and conn_id in connections:
                problems.append(_("connection '{conn_id}' already belongs to tenant '{other}'; each business needs "
                                  "its own").format(conn_id=conn_id, other=connections[conn_id]))
        keys.add(key)
        if problems:
            tenants.append(Tenant(key, name, office365, openhandwerk,
                                  problem="; ".join(problems)))
            continue
        connections.update({office365: key, openhandwerk: key})
        fields.update(key=key, name=name, office365_conn_id=office365, openhandwerk_conn_id=openhandwerk,
                      overrides=fields.get("overrides") or {})
        tenants.append(Tenant.from_dict(fields))
    return tenants


def load_registry(variable: str = VARIABLE) -> list[Tenant]:
    """The registry from the Airflow Variable (any secrets backend serves it); the default business
    alone when the Variable does not exist. Raises `ConfigurationError` when it cannot be read."""
    from airflow.sdk import Variable

    text = Variable.get(variable, default=None)
    if text is None:
        return [default_tenant()]
    return parse_registry(text)


def check_map_length(count: int, limit: int) -> None:
    """Airflow maps at most ``[core] max_map_length`` task instances per task (1024 by default).

    Raises `ConfigurationError` with the setting to raise when the registry holds more tenants (or a
    run more shards) than that."""
    if count > limit:
        raise ConfigurationError(_(
            "{count} tenants or shards to map, but Airflow maps at most {limit} per task. Raise [core] "
            "max_map_length (environment AIRFLOW__CORE__MAX_MAP_LENGTH) to at least {count} on the scheduler "
            "and the workers (see the README's fleet section).").format(count=count, limit=limit))
