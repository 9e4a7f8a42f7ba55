"""The hub's OpenAPI: its configuration (title, bearer security, the offline viewer), a
schema plugin that says what msgspec enforces (a body Struct that refuses unknown
fields is ``additionalProperties: false``, so generated clients and fuzzers know it),
and the refinements only the installed plugins can give (:func:`refine`)."""

from __future__ import annotations

import copy
import re

import msgspec
# Litestar's own plugin for Structs, extended below (it has no public name).
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import (Components, OpenAPI, OpenAPIType, Operation, Parameter, PathItem, Reference, Schema,
                                   SecurityScheme)

from ..types import ProviderInfo
from ..version import __version__
from .schema_viewer import viewer


# msgspec's constraint → the OpenAPI property that says it.
_CONSTRAINTS = {"ge": "minimum", "gt": "exclusive_minimum", "le": "maximum", "lt": "exclusive_maximum",
                "min_length": "min_length", "max_length": "max_length", "pattern": "pattern"}
_SCALARS = (msgspec.inspect.IntType, msgspec.inspect.FloatType, msgspec.inspect.StrType)


def _scalar(type_: msgspec.inspect.Type) -> msgspec.inspect.Type | None:
    """The constrained scalar of a field, through ``| None`` (and ``| UnsetType``)."""
    if isinstance(type_, msgspec.inspect.UnionType):
        inner = [t for t in type_.types if not isinstance(t, msgspec.inspect.NoneType)]  # (UNSET is not listed)
        type_ = inner[0] if len(inner) == 1 else type_
    return type_ if isinstance(type_, _SCALARS) else None


class ClosedStructs(StructSchemaPlugin):
    """Litestar's own Struct schemas, closed where the Struct is, with every constraint
    msgspec checks: Litestar drops a zero bound (``ge=0``) and the constraints of a
    field that may be left unset."""

    def to_openapi_schema(self, field_definition, schema_creator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if info.forbid_unknown_fields:  # type: ignore[union-attr]
            schema.additional_properties = False
        for field in info.fields:  # type: ignore[union-attr]
            scalar, prop = _scalar(field.type), (schema.properties or {}).get(field.encode_name)
            if scalar is None or not isinstance(prop, Schema):
                continue
            for constraint, key in _CONSTRAINTS.items():
                value = getattr(scalar, constraint, None)
                if value is not None and getattr(prop, key, None) is None:
                    setattr(prop, key, value)
        return schema


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="axhub — Attendance-X Integrations API",
        version=__version__,
        path="/schema",
        render_plugins=[viewer()],
        components=Components(
            security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
        ),
        security=[{"BearerToken": []}],
    )


def refine(openapi: OpenAPI, providers: list[ProviderInfo], sync_interval: tuple[int, int]) -> None:
    """What only the installed plugins and the operator know, written into the built
    schema: the provider slugs a filter takes, and per provider its own connect and
    callback operations — the scopes it offers and its settings' schema, with the
    operator's ``syncInterval`` bounds — in place of ``{provider}``."""
    slugs = sorted(info.slug for info in providers)
    components = openapi.components.schemas if openapi.components and openapi.components.schemas is not None else {}
    for name, schema in _settings_components(providers).items():
        interval = schema.get("properties", {}).get("syncInterval")
        if interval is not None:
            interval["minimum"], interval["maximum"] = sync_interval
        components.setdefault(name, schema)  # type: ignore[assignment]
    # An integration's settings, as read back, are its provider's.
    shown = components.get("IntegrationOut")
    if isinstance(shown, Schema) and shown.properties and "settings" in shown.properties:
        shown.properties["settings"] = {  # type: ignore[assignment]
            "anyOf": [{"$ref": f"#/components/schemas/{_settings_name(info)}"} for info in providers],
            "description": "the provider's settings (the schema named after its slug)",
        }
    for path_item in openapi.paths.values() if openapi.paths else ():
        for operation in _operations(path_item):
            for parameter in operation.parameters or []:
                if isinstance(parameter, Parameter) and parameter.param_in == "query" and isinstance(parameter.schema, Schema):
                    if parameter.name == "provider":
                        parameter.schema = Schema(type=OpenAPIType.STRING, enum=slugs)
                    elif parameter.name == "providers":  # comma-separated
                        one = "|".join(re.escape(slug) for slug in slugs)  # empty: every provider
                        parameter.schema = Schema(type=OpenAPIType.STRING, pattern=f"^$|^ *({one}) *(, *({one}) *)*$")
    connect_in = components["ConnectIn"].to_schema() if isinstance(components.get("ConnectIn"), Schema) else {}
    for template in ("/api/integrations/{provider}/connect", "/api/integrations/{provider}/callback"):
        generic = openapi.paths.pop(template, None) if openapi.paths else None
        if generic is None:
            continue
        for info in providers:
            if template.endswith("callback") and not info.oauth:
                continue  # connected at once: no callback
            openapi.paths[template.replace("{provider}", info.slug)] = _for_provider(generic, info, connect_in)


def _operations(path_item: PathItem) -> list[Operation]:
    return [op for op in (path_item.get, path_item.put, path_item.post, path_item.patch, path_item.delete) if op]


def _settings_name(info: ProviderInfo) -> str:
    return f"{info.slug}.{info.settings_type.__name__}"


def _settings_components(providers: list[ProviderInfo]) -> dict[str, dict]:
    """Each provider's settings Structs as JSON Schema (msgspec's, as GET /providers shows
    them), named under the provider's slug: two plugins may both have a ``Filters``."""
    out: dict[str, dict] = {}
    for info in providers:
        _, defs = msgspec.json.schema_components([info.settings_type],
                                                 ref_template=f"#/components/schemas/{info.slug}.{{name}}")
        out.update({f"{info.slug}.{name}": schema for name, schema in defs.items()})
    return out


def _connect_body(generic: dict, info: ProviderInfo) -> dict:
    """ConnectIn for one provider: the scopes it offers, its settings."""
    body = copy.deepcopy(generic)
    properties = body.setdefault("properties", {})
    properties["scopes"] = {"oneOf": [{"type": "array", "minItems": 1,
                                       "items": {"type": "string", "enum": [s.name for s in info.scopes]}},
                                      {"type": "null"}],
                            "description": f"null or left out: {', '.join(info.default_scopes)}"}
    properties["settings"] = {"oneOf": [{"$ref": f"#/components/schemas/{_settings_name(info)}"}, {"type": "null"}]}
    return {"oneOf": [body, {"type": "null"}]}  # null, as no body: the defaults


def _for_provider(generic: PathItem, info: ProviderInfo, generic_body: dict) -> PathItem:
    item = copy.deepcopy(generic)
    for operation in _operations(item):
        operation.parameters = [p for p in operation.parameters or [] if getattr(p, "name", None) != "provider"] or None
        operation.operation_id = f"{operation.operation_id}{info.slug.title().replace('-', '')}"
        operation.summary = f"{operation.summary} ({info.name})"
        body = operation.request_body
        media = body.content.get("application/json") if body is not None and body.content else None
        if media is None or not _refers_to(media.schema, "ConnectIn"):
            continue
        media.schema = _connect_body(generic_body, info)  # type: ignore[assignment]
    return item


def _refers_to(schema: object, name: str) -> bool:
    """``schema`` is a reference to component ``name``, or its union with null."""
    if isinstance(schema, Reference):
        return schema.ref.endswith(f"/{name}")
    return isinstance(schema, Schema) and any(_refers_to(s, name) for s in schema.one_of or ())
