"""Check Calendar API v3 requests and responses against Google's discovery document.

    from discovery import method_for, validate_request, validate_response, validate_log

    method_for("GET", "/calendar/v3/calendars/primary/events")        # "calendar.events.list"
    validate_request("GET", url_or_path, {"maxResults": 2500}, None)  # [] when Google would accept it
    validate_response("calendar.events.list", body)                   # [] when every field is Google's
    validate_log(sandbox.get("/_control/calendar/log").json()["entries"])

Every function returns the problems found as readable strings; an empty list means OK.
What is checked: the path matches a method's ``path`` template (under ``calendar/v3/``,
whatever comes before it: host, ``/sandbox/google``), every query parameter is one of the
method's parameters (or a global one such as ``fields``) with the right type, format,
enum, bounds and repetition, required ones are present, and bodies only hold properties
of their schema, recursively (``$ref``, ``additionalProperties``, arrays), with the right
JSON types and formats; fields a method requires (``annotations.required``) are present.
Not checked: semantics the document only describes in prose (read-only fields,
combinations such as syncToken with timeMin — the sandbox enforces those).

The document is ``data/google-calendar-v3.discovery.json`` beside this file, a copy of the
shared provider spec (``AXHUB_GOOGLE_DISCOVERY`` points elsewhere).
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

# A copy of Google's published document travels with the tests, so that they run in any
# clone; test_the_copy_is_the_published_document keeps it equal to the shared original.
DEFAULT = Path(__file__).resolve().parent / "data" / "google-calendar-v3.discovery.json"
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "provider-specs" / "google-calendar-v3.discovery.json"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")
DATE = re.compile(r"\d{4}-\d\d-\d\d")
INT = re.compile(r"-?\d+")
RANGES = {"int32": (-2**31, 2**31 - 1), "uint32": (0, 2**32 - 1), "int64": (-2**63, 2**63 - 1), "uint64": (0, 2**64 - 1)}


def spec_path() -> Path:
    return Path(os.environ.get("AXHUB_GOOGLE_DISCOVERY") or DEFAULT)


@functools.lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    return json.loads(spec_path().read_text())


@functools.lru_cache(maxsize=1)
def _methods() -> dict[str, dict[str, Any]]:
    """Every method by id, resources nested at any depth."""
    out: dict[str, dict[str, Any]] = {}

    def walk(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            for method in (resource.get("methods") or {}).values():
                out[method["id"]] = method
            walk(resource.get("resources") or {})

    walk(document().get("resources") or {})
    return out


@functools.lru_cache(maxsize=1)
def _templates() -> list[tuple[str, re.Pattern[str], int, str]]:
    """(HTTP method, path regex, literal segments, method id), most literal first so that
    ``events/quickAdd`` wins over ``events/{eventId}``."""
    rows = []
    for method_id, method in _methods().items():
        parts, literal = [], 0
        for segment in method["path"].split("/"):
            name = re.fullmatch(r"\{\+?(\w+)\}", segment)
            if name:
                parts.append(f"(?P<{name.group(1)}>{'.+' if '{+' in segment else '[^/]+'})")
            else:
                parts.append(re.escape(segment))
                literal += 1
        rows.append((method["httpMethod"], re.compile("/".join(parts)), literal, method_id))
    rows.sort(key=lambda row: -row[2])
    return rows


def _method_id(name: str) -> str:
    return name if name in _methods() else f"{document()['name']}.{name}"


def _split(path: str) -> tuple[str | None, list[tuple[str, str]]]:
    """The part after ``calendar/v3/`` and the query pairs of a URL or path."""
    parsed = urlsplit(path)
    service = document()["servicePath"]  # "calendar/v3/"
    at = parsed.path.find("/" + service)
    rest = parsed.path[at + len(service) + 1:] if at >= 0 else None
    return rest, parse_qsl(parsed.query, keep_blank_values=True)


def _match(http_method: str, path: str) -> tuple[str, dict[str, str]] | None:
    rest, _ = _split(path)
    if rest is None:
        return None
    for verb, pattern, _, method_id in _templates():
        if verb == http_method.upper():
            found = pattern.fullmatch(rest)
            if found:
                return method_id, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


def method_for(http_method: str, path: str) -> str | None:
    """The discovery id (``calendar.events.list``) of a request, or None."""
    found = _match(http_method, path)
    return found[0] if found else None


# -- values -------------------------------------------------------------------------------
def _param_problems(name: str, value: Any, param: dict[str, Any]) -> list[str]:
    values = value if isinstance(value, (list, tuple)) else [value]
    problems = []
    if len(values) > 1 and not param.get("repeated"):
        problems.append(f"query {name}: given {len(values)} times but not repeatable")
    for item in values:
        problems += [f"query {name}: {p}" for p in _scalar_problems(item, param, from_url=True)]
    return problems


def _scalar_problems(value: Any, schema: dict[str, Any], from_url: bool = False) -> list[str]:
    """Problems of a string/integer/number/boolean value; URL values arrive as text."""
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "boolean":
        ok = isinstance(value, bool) or (from_url and str(value).lower() in ("true", "false"))
        return [] if ok else [f"{value!r} is not a boolean"]
    if kind == "integer" or (kind == "string" and fmt in ("int64", "uint64")):
        is_int = isinstance(value, int) and not isinstance(value, bool)
        is_text = isinstance(value, str) and bool(INT.fullmatch(value))
        if kind == "integer" and not (is_int or (from_url and is_text)):
            return [f"{value!r} is not an integer"]
        if kind == "string" and not (is_text or (from_url and is_int)):  # 64-bit integers travel as JSON strings
            return [f"{value!r} is not a string holding an {fmt}"]
        number = int(value)
        low, high = RANGES.get(fmt or "", (None, None))
        problems = []
        if low is not None and not low <= number <= high:
            problems.append(f"{number} is out of the {fmt} range")
        if "minimum" in schema and number < int(schema["minimum"]):
            problems.append(f"{number} is below the minimum {schema['minimum']}")
        if "maximum" in schema and number > int(schema["maximum"]):
            problems.append(f"{number} is above the maximum {schema['maximum']}")
        return problems
    if kind == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return []
        if from_url and isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", value):
            return []
        return [f"{value!r} is not a number"]
    if kind == "string":
        if not isinstance(value, str) and not (from_url and isinstance(value, (int, float)) and not isinstance(value, bool)):
            return [f"{value!r} is not a string"]
        text = str(value)
        if fmt == "date-time" and not RFC3339.fullmatch(text):
            return [f"{text!r} is not an RFC 3339 date-time with a time zone offset"]
        if fmt == "date" and not DATE.fullmatch(text):
            return [f"{text!r} is not a date (YYYY-MM-DD)"]
        if "enum" in schema and text not in schema["enum"]:
            return [f"{text!r} is not one of {schema['enum']}"]
    return []


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document()["schemas"][schema["$ref"]]
    return schema


def check(value: Any, schema: dict[str, Any], where: str, method_id: str | None = None) -> list[str]:
    """Problems of a JSON value against a schema, recursively. ``method_id`` turns on the
    fields the method requires (``annotations.required``)."""
    name = schema.get("$ref")
    schema = _resolve(schema)
    kind = schema.get("type") or ("object" if "properties" in schema or "additionalProperties" in schema else None)
    if kind in (None, "any"):
        return []
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} where an object{f' ({name})' if name else ''} is expected"]
        problems: list[str] = []
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                problems += check(item, properties[key], f"{where}.{key}", method_id)
            elif extra is not None:
                problems += check(item, extra, f"{where}.{key}", method_id)
            else:
                problems.append(f"{where}.{key}: not a property of {name or schema.get('id') or 'this object'}")
        if method_id:
            for key, prop in properties.items():
                if method_id in ((prop.get("annotations") or {}).get("required") or []) and key not in value:
                    problems.append(f"{where}.{key}: required by {method_id}")
        return problems
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__} where an array is expected"]
        problems = []
        for i, item in enumerate(value):
            problems += check(item, schema.get("items") or {}, f"{where}[{i}]", method_id)
        return problems
    return [f"{where}: {p}" for p in _scalar_problems(value, schema)]


# -- requests and responses ---------------------------------------------------------------
def _pairs(query: dict[str, Any] | Iterable[tuple[str, Any]] | None) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    items = query.items() if isinstance(query, dict) else (query or [])
    for key, value in items:
        if value is None:
            continue
        out.setdefault(key, []).extend(value if isinstance(value, (list, tuple)) else [value])
    return out


def validate_request(http_method: str, path: str, query: dict[str, Any] | Iterable[tuple[str, Any]] | None = None,
                     body: Any = None) -> list[str]:
    """Problems of a request; ``path`` may be a full URL and may carry the query itself."""
    found = _match(http_method, path)
    if found is None:
        return [f"{http_method} {path}: no Calendar API v3 method has this path"]
    method_id, path_params = found
    method = _methods()[method_id]
    params = method.get("parameters") or {}
    known = {**document().get("parameters", {}), **params}
    given = _pairs(_split(path)[1])
    for key, values in _pairs(query).items():
        given.setdefault(key, []).extend(values)
    problems = []
    for name, param in params.items():
        if param.get("location") == "path" and param.get("required") and not path_params.get(name):
            problems.append(f"path {name}: missing")
        if param.get("location") == "query" and param.get("required") and name not in given:
            problems.append(f"query {name}: required by {method_id}")
    for name, values in given.items():
        param = known.get(name)
        if param is None or param.get("location") != "query":
            problems.append(f"query {name}: not a parameter of {method_id}")
            continue
        problems += _param_problems(name, values, param)
    request = method.get("request")
    if request is None:
        if body not in (None, b"", ""):
            problems.append(f"body: {method_id} takes no request body")
    elif body is None:
        problems.append(f"body: {method_id} needs a {request.get('$ref', 'request')} body")
    else:
        problems += check(body, request, "body", method_id)
    return problems


def validate_response(method_id: str, body: Any) -> list[str]:
    """Problems of a success response body (None for methods that answer nothing)."""
    method = _methods().get(_method_id(method_id))
    if method is None:
        return [f"{method_id}: no such method"]
    response = method.get("response")
    if response is None:
        return [] if body in (None, b"", "") else [f"{method_id} answers no body, got {type(body).__name__}"]
    if body is None:
        return [f"{method_id} answers a {response.get('$ref')}, got nothing"]
    return check(body, response, response.get("$ref", "response"))


def validate_error(body: Any) -> list[str]:
    """Problems of an error body against Google's JSON error shape (not in the document)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or set(body) != {"error"}:
        return [f"error body is not {{'error': {{…}}}}: {body!r:.200}"]
    problems = []
    if not isinstance(error.get("code"), int) or not isinstance(error.get("message"), str):
        problems.append("error: code (int) and message (str) are required")
    unknown = set(error) - {"code", "message", "errors", "status", "details"}
    if unknown:
        problems.append(f"error: unexpected fields {sorted(unknown)}")
    items = error.get("errors")
    if not isinstance(items, list) or not items:
        problems.append("error.errors: a non-empty list is expected")
    else:
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("domain", "reason", "message")):
                problems.append(f"error.errors[{i}]: domain, reason and message (strings) are required")
    return problems


def validate_log(entries: Iterable[dict[str, Any]]) -> list[str]:
    """Every request and response of the sandbox's ``/_control/calendar/log``."""
    problems = []
    for entry in entries:
        tag = f"#{entry.get('n')} {entry['method']} {entry['path']}"
        problems += [f"{tag}: {p}" for p in validate_request(entry["method"], entry["path"], entry.get("query"), entry.get("body"))]
        status, response = entry.get("status", 200), entry.get("response")
        if 200 <= status < 300:
            method_id = entry.get("methodId") or method_for(entry["method"], entry["path"])
            if method_id:
                problems += [f"{tag} -> {status}: {p}" for p in validate_response(method_id, response)]
        elif status >= 400:
            problems += [f"{tag} -> {status}: {p}" for p in validate_error(response)]
    return problems
