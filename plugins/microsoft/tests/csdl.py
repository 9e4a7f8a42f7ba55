"""The part of Graph's CSDL (``microsoft-graph-v1.0.csdl.xml``) the Outlook sync uses, and
a checker of request and response bodies against it.

The tests carry the extract (``data/graph-outlook-types.json``) so that they run in any
clone; ``test_the_extract_is_the_shared_csdl`` checks it against the full document when
the shared provider specs are there.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

EXTRACT = Path(__file__).parent / "data" / "graph-outlook-types.json"
SHARED = Path("/work/shared/provider-specs/microsoft-graph-v1.0.csdl.xml")
ROOTS = ("event", "outlookCategory", "onlineMeeting", "chatMessage")
EDM = {"Edm.String": str, "Edm.Boolean": bool, "Edm.Int32": int, "Edm.DateTimeOffset": str, "Edm.Double": (int, float)}


def extract(path: Path) -> dict[str, Any]:
    """The types reachable from :data:`ROOTS` through properties and base types."""
    ns = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
    schema = next(s for s in ET.parse(path).getroot().iter(f"{{{ns['edm']}}}Schema") if s.get("Namespace") == "microsoft.graph")
    nodes = {n.get("Name"): n for n in schema if n.tag.endswith(("EntityType", "ComplexType", "EnumType"))}
    types: dict[str, Any] = {}
    enums: dict[str, list[str]] = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in types or name in enums:
            continue
        node = nodes[name]
        if node.tag.endswith("EnumType"):
            enums[name] = [m.get("Name") for m in node if m.tag.endswith("Member")]
            continue
        props = {p.get("Name"): p.get("Type") for p in node if p.tag.endswith("}Property")}
        base = (node.get("BaseType") or "").removeprefix("graph.") or None
        types[name] = {"base": base, "properties": props}
        if base:
            todo.append(base)
        for kind in props.values():
            inner = kind.removeprefix("Collection(").removesuffix(")")
            if inner.startswith("graph."):
                todo.append(inner.removeprefix("graph."))
    return {"types": dict(sorted(types.items())), "enums": dict(sorted(enums.items()))}


def load() -> dict[str, Any]:
    return json.loads(EXTRACT.read_text())


def properties(model: dict[str, Any], name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    while name:
        kind = model["types"][name]
        out.update(kind["properties"])
        name = kind["base"]
    return out


def problems(model: dict[str, Any], value: Any, kind: str, where: str = "") -> list[str]:
    """What in ``value`` the CSDL type ``kind`` does not allow (``@odata.*`` annotations aside)."""
    if value is None:
        return []
    if kind.startswith("Collection("):
        inner = kind[len("Collection("):-1]
        if not isinstance(value, list):
            return [f"{where}: a collection of {inner} expected"]
        return [p for i, item in enumerate(value) for p in problems(model, item, inner, f"{where}[{i}]")]
    if kind in EDM:
        ok = isinstance(value, EDM[kind]) and not (kind != "Edm.Boolean" and isinstance(value, bool))
        return [] if ok else [f"{where}: {value!r} is not {kind}"]
    name = kind.removeprefix("graph.")
    if name in model["enums"]:
        return [] if value in model["enums"][name] else [f"{where}: {value!r} is not a {name}"]
    if name not in model["types"]:
        return [f"{where}: {kind} is outside the extract"]
    if not isinstance(value, dict):
        return [f"{where}: an object of {name} expected"]
    allowed = properties(model, name)
    out = []
    for key, item in value.items():
        if key.startswith("@odata.") or key == "@removed":
            continue
        if key not in allowed:
            out.append(f"{where}.{key}: not a property of {name}")
        else:
            out += problems(model, item, allowed[key], f"{where}.{key}")
    return out
