"""Every value a connection brings, checked against the one declaration of its form.

The declaration is `get_provider_info.py`: `conn-fields` (the extra fields, one JSON schema each, which
Airflow 3.3's form renders and `connection_form.py` turns into the form of older lines),
`STANDARD_FIELDS` (login, password, host, schema, with the form's labels) and `EXTRA_ONLY_FIELDS`.
A connection may come from the form, pasted Extra JSON, an `AIRFLOW_CONN_*` URI or JSON, or a
secrets backend, so each value is first coerced the way the form and URIs store it (``"60"`` -> 60,
``"true"`` -> True, surrounding spaces dropped, an empty text = not given, ``26.11.2028`` ->
``2028-11-26``, JSON text -> object) and then validated with `jsonschema` (Draft 2020-12, formats
checked). Every wrong field becomes one line of a single `ConfigurationError`, all at once: the
connection id, the field's label as the form shows it, the value (never a secret's), what is allowed
and the fix. Extra keys that are no field of the type are logged as a warning, with the closest name.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from oh_outlook_provider import get_provider_info as declared
from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.graph.errors import APP_NAME
from oh_outlook_provider.i18n import _

log = logging.getLogger(__name__)

STANDARD = ("host", "schema", "login", "password")  # attributes of the Connection itself
# Extra keys of connections made before 0.2, read as the field they name when that field is empty (README).
LEGACY_KEYS: dict[str, dict[str, str]] = {declared.OFFICE365_CONN_TYPE: {"client_id": "login"},
                                         declared.OPENHANDWERK_CONN_TYPE: {"id_kn": "schema"}}
EXAMPLE_GUID = "6f1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ][0-9:.+\-Z]*)?$")
_GERMAN_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}

Converter = Callable[[Any], Any]
"""A checked value -> the typed one (e.g. a date); raises ValueError whose text says what is allowed."""


@dataclass(frozen=True)
class Field:
    """One field of a connection type: its name (extra key or Connection attribute), the form's label, its schema."""

    name: str
    label: str
    schema: dict

    @property
    def secret(self) -> bool:
        return self.schema.get("format") == "password"


def fields(conn_type: str) -> dict[str, Field]:
    """{name: Field} of `conn_type` ("office365" or "openhandwerk"), in the form's order: the standard
    fields, the extra fields of `conn-fields`, then those read from the Extra JSON only."""
    kind = next(c for c in declared.get_provider_info()["connection-types"] if c["connection-type"] == conn_type)
    out = {name: Field(name, f["label"], f["schema"]) for name, f in declared.STANDARD_FIELDS[conn_type].items()}
    for group in (kind["conn-fields"], declared.EXTRA_ONLY_FIELDS[conn_type]):
        out.update({name: Field(name, f["label"], f.get("schema", {})) for name, f in group.items()})
    return out


@dataclass(frozen=True)
class Problem:
    """One wrong field: `value` as the connection holds it (None: missing), `allowed` in the admin's language."""

    conn_type: str
    field: Field
    value: Any
    allowed: str
    alternative: Field | None = None

    def line(self) -> str:
        """One line: the label, the value (never a secret's), what is allowed, the fix."""
        label = self.field.label
        if self.value is None:
            what = _("missing")
        elif self.field.secret:
            what = _("the value given (not shown: a secret) is not allowed")
        else:
            what = _("'{value}' is not allowed").format(value=_shown(self.value))
        if self.value is None:
            fix = _("enter it in the field '{label}'").format(label=label)
            if self.alternative is not None:
                fix += " " + _("(or fill in '{label}' instead)").format(label=self.alternative.label)
        else:
            fix = _("correct the field '{label}'").format(label=label)
            if self.field.schema.get("default") is not None:
                fix += " " + _("or empty it for the default {default}").format(default=self.field.schema["default"])
        hint = _hint(self.conn_type, self.field.name)
        fix += f"; {hint}." if hint else "."
        return _("'{label}': {what}. Allowed: {allowed}. Fix: {fix}").format(label=label, what=what,
                                                                            allowed=self.allowed, fix=fix)


def check_connection(conn: Any, conn_type: str, conn_id: str, *, required: Iterable[tuple[str, ...]] = (),
                     needs: Mapping[str, str] | None = None,
                     converters: Mapping[str, Converter] | None = None) -> dict[str, Any]:
    """The connection's values by field name, coerced, checked and typed; a field not given holds its
    declared default, else None. `required`: groups of fields of which one must be given; `needs`:
    field -> the field it needs when given; `converters`: field -> Converter. Raises
    ConfigurationError with one line per wrong field when any is wrong."""
    known = fields(conn_type)
    raw = _raw_values(conn, conn_type, conn_id, known)
    values: dict[str, Any] = {}
    problems: dict[str, Problem] = {}
    for name, field in known.items():
        try:
            values[name] = coerce(raw.get(name), field.schema)
        except ValueError:
            problems[name] = Problem(conn_type, field, raw.get(name), allowed(field))
    schema = {"type": "object", "properties": {name: _checking(f.schema) for name, f in known.items()}}
    # Not given (None) is no wrong value: whether a field must be given is `required`'s business.
    checked = {name: value for name, value in values.items() if name not in problems and value is not None}
    for error in Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(checked):
        name = error.absolute_path[0] if error.absolute_path else None
        if name in known and name not in problems:
            problems[name] = Problem(conn_type, known[name], raw.get(name), allowed(known[name]))
    for group in required:
        if all(values.get(name) is None and name not in problems for name in group):
            problems[group[0]] = Problem(conn_type, known[group[0]], None, allowed(known[group[0]]),
                                         known[group[1]] if len(group) > 1 else None)
    for name, other in (needs or {}).items():
        if values.get(name) is not None and values.get(other) is None and other not in problems:
            problems[other] = Problem(conn_type, known[other], None, allowed(known[other]))
    for name, convert in (converters or {}).items():
        if name not in problems and values.get(name) is not None:
            try:
                values[name] = convert(values[name])
            except ValueError as exc:
                problems[name] = Problem(conn_type, known[name], raw.get(name), str(exc))
    if problems:
        ordered = [problems[name] for name in known if name in problems]
        raise ConfigurationError("\n".join(
            [_("Connection '{conn_id}': {count} value(s) to correct.").format(conn_id=conn_id, count=len(ordered))]
            + ["- " + problem.line() for problem in ordered]))
    for name, field in known.items():
        if values[name] is None and field.schema.get("default") is not None:
            values[name] = field.schema["default"]
    return values


def coerce(value: Any, schema: Mapping[str, Any]) -> Any:
    """`value` as the schema's type wants it, the way the form, URIs and secrets backends store it:
    surrounding spaces dropped (not of a secret), an empty text is None, "60" -> 60, "1,5" -> 1.5,
    "true"/"false", an enum member in any case, a date as YYYY-MM-DD, JSON text parsed where the
    schema declares `contentMediaType: application/json`. Anything else is returned as it is, for the
    validator to refuse; ValueError when JSON text does not parse."""
    if isinstance(value, str):
        if not value.strip():
            return None
        value = value if schema.get("format") == "password" else value.strip()
    if value is None:
        return None
    types = _types(schema)
    if "contentSchema" in schema and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, str):
        return _from_text(value, schema, types)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and "string" in types and not types & {"integer", "number"}:
        return str(value)  # an account id typed as a number in JSON
    if isinstance(value, float) and "integer" in types and value.is_integer():
        return int(value)
    if isinstance(value, dt.date) and "string" in types:
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    return value


def _from_text(text: str, schema: Mapping[str, Any], types: set[str]) -> Any:
    if schema.get("enum"):
        return next((member for member in schema["enum"] if str(member).lower() == text.lower()), text)
    if types & {"integer", "number"}:
        try:
            number = float(text.replace(",", ".")) if not re.fullmatch(r"[+-]?\d+", text) else int(text)
        except ValueError:
            return text
        return int(number) if isinstance(number, float) and number.is_integer() else number
    if "boolean" in types and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    if schema.get("format") == "date":
        if match := _ISO_DATE.match(text):
            return match.group(1)
        if match := _GERMAN_DATE.match(text):
            day, month, year = match.groups()
            return f"{year}-{int(month):02d}-{int(day):02d}"
    return text


def allowed(field: Field) -> str:
    """What the field takes, in the admin's language, from its schema."""
    s = field.schema
    pattern, types = s.get("pattern"), _types(s)
    if s.get("enum"):
        return _("one of {values}").format(values=", ".join(str(v) for v in s["enum"]))
    if pattern == declared.GUID_PATTERN:
        return _("a GUID such as {example}").format(example=EXAMPLE_GUID)
    if pattern == declared.TENANT_PATTERN:
        return _("a GUID such as {example}, or the tenant's domain such as firma.onmicrosoft.com").format(
            example=EXAMPLE_GUID)
    if pattern == declared.HTTPS_PATTERN:
        return _("an https:// address (https://host[:port][/path])")
    if pattern == declared.THUMBPRINT_PATTERN:
        return _("the 40 hexadecimal characters of the certificate's SHA-1 thumbprint")
    if pattern == declared.PEM_KEY_PATTERN:
        return _("a PEM private key (-----BEGIN PRIVATE KEY----- ...)")
    if s.get("format") == "date":
        return _("a date such as 2028-11-26 or 26.11.2028")
    if "contentSchema" in s:
        names = s["contentSchema"].get("propertyNames", {}).get("enum", [])
        return _("a JSON object such as {example}; keys: {keys}; each path starts with /").format(
            example='{"appointments": "/termine"}', keys=", ".join(names))
    if "integer" in types:
        return _("a whole number from {low} to {high}").format(low=s.get("minimum"), high=s.get("maximum"))
    if "number" in types:
        return _("a number above {low} and at most {high}").format(low=s.get("exclusiveMinimum"), high=s.get("maximum"))
    if "boolean" in types:
        return _("true or false")
    if field.secret:
        return _("a secret text of at most {count} characters").format(count=s.get("maxLength", 1024))
    return _("a text of at most {count} characters").format(count=s.get("maxLength", 255))


def _hint(conn_type: str, name: str) -> str:
    """Where the admin finds the right value, for the fields whose value comes from somewhere else."""
    entra = _("Microsoft Entra admin center > App registrations > {app} > {page}")
    hints = {
        (declared.OFFICE365_CONN_TYPE, "tenant_id"): lambda: _(
            "copy the Directory (tenant) ID from Microsoft Entra admin center > Overview"),
        (declared.OFFICE365_CONN_TYPE, "login"): lambda: _("copy the Application (client) ID from {where}").format(
            where=entra.format(app=APP_NAME, page=_("Overview"))),
        (declared.OFFICE365_CONN_TYPE, "password"): lambda: _(
            "paste the VALUE column of a client secret under {where}, not its Secret ID").format(
            where=entra.format(app=APP_NAME, page=_("Certificates & secrets"))),
        (declared.OFFICE365_CONN_TYPE, "credential_valid_until"): lambda: _(
            "type the date shown beside the secret under {where}").format(
            where=entra.format(app=APP_NAME, page=_("Certificates & secrets"))),
        (declared.OFFICE365_CONN_TYPE, "certificate_thumbprint"): lambda: _(
            "copy the thumbprint shown beside the certificate under {where}").format(
            where=entra.format(app=APP_NAME, page=_("Certificates & secrets"))),
        (declared.OPENHANDWERK_CONN_TYPE, "host"): lambda: _(
            "the login sends the API password, which plain http:// would show to everyone on the way"),
    }
    found = hints.get((conn_type, name))
    return found() if found else ""


def _raw_values(conn: Any, conn_type: str, conn_id: str, known: Mapping[str, Field]) -> dict[str, Any]:
    """{field name: value as stored}: the Connection's standard attributes, then its Extra JSON (legacy
    `extra__<type>__` prefixes dropped, legacy keys read as their field); unknown keys logged."""
    values = {name: getattr(conn, name, None) for name in STANDARD if name in known}
    if conn_type == declared.OPENHANDWERK_CONN_TYPE and isinstance(values.get("host"), str):
        host = values["host"].strip()  # a bare host name, as the form's placeholder shows it, means https
        values["host"] = f"https://{host}" if host and "://" not in host else values["host"]
    legacy, unknown = LEGACY_KEYS.get(conn_type, {}), []
    for key, value in extra_of(conn, conn_id).items():
        if key in legacy:
            target = legacy[key]
            if values.get(target) is None or (isinstance(values[target], str) and not values[target].strip()):
                values[target] = value
        elif key in known and key not in STANDARD:
            values[key] = value
        else:
            unknown.append(key)
    if unknown:
        names = [name for name in known if name not in STANDARD] + list(legacy)
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key.lower(), names, n=1, cutoff=0.6)
            hints.append(_("'{key}' (did you mean '{match}'?)").format(key=key, match=close[0]) if close else f"'{key}'")
        log.warning("%s", _("Connection '{conn_id}': the Extra key(s) {keys} are no field of this connection type "
                            "and are ignored; the fields are: {fields}.").format(
            conn_id=conn_id, keys=", ".join(hints), fields=", ".join(names)))
    return values


def extra_of(conn: Any, conn_id: str) -> dict[str, Any]:
    """The Extra JSON as a dict, legacy `extra__<type>__key` names as `key`. The JSON text, not
    `extra_dejson`: that registers every extra value with the secrets masker, and a short harmless one
    (idKn "4711") makes the masker warn "too short"; the hooks register the real secrets themselves."""
    raw = getattr(conn, "extra", None)
    if raw is None and getattr(conn, "extra_dejson", None) is not None:
        raw = conn.extra_dejson
    raw = raw or "{}"
    try:
        extra = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except ValueError as exc:
        raise ConfigurationError(_("Connection '{conn_id}': Extra is not valid JSON ({error}).").format(
            conn_id=conn_id, error=exc)) from None
    if not isinstance(extra, dict):
        raise ConfigurationError(_("Connection '{conn_id}': Extra must be a JSON object.").format(conn_id=conn_id))
    return {(key.split("__")[-1] if key.startswith("extra__") else key): value for key, value in extra.items()}


def _checking(schema: Mapping[str, Any]) -> dict:
    """The field's schema as the validator applies it: JSON text is checked by its `contentSchema`."""
    if "contentSchema" in schema:
        return {"anyOf": [{"type": "null"}, schema["contentSchema"]]}
    return dict(schema)


def _types(schema: Mapping[str, Any]) -> set[str]:
    kinds = schema.get("type", "string")
    return set(kinds if isinstance(kinds, list) else [kinds])


def _shown(value: Any) -> str:
    """The value as the admin typed it, on one line, cut at 80 characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split()) if text.strip() else text
    return text if len(text) <= 80 else text[:77] + "..."
