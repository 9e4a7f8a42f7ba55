"""The hub's OpenAPI configuration: title, bearer security, the offline viewer, and a
schema plugin that says what msgspec enforces — a body Struct that refuses unknown
fields is ``additionalProperties: false``, so generated clients and fuzzers know it."""

from __future__ import annotations

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, Schema, SecurityScheme

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
