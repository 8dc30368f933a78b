"""The scenario field reference, generated from the schema.

``ledgerlab schema`` prints :func:`json_schema` (for editors' YAML completion) and
``ledgerlab schema --markdown`` prints :func:`markdown_reference`, which is also committed
as ``docs/scenarios.md``; a test fails when that file no longer matches the schema, so the
reference can never drift from the code. Regenerate it with ``make docs``.
"""

from __future__ import annotations

import json
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ledgerlab.scenarios.loader import _unwrap
from ledgerlab.scenarios.schema import Scenario

__all__ = ["field_rows", "json_schema", "markdown_reference"]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (draft 2020-12, as pydantic writes it)."""
    schema = Scenario.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ledgerlab scenario"
    return schema


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The section models a field holds (one, a union of kinds, or a tuple of them)."""
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin is tuple:
        return _models(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        out: list[type[BaseModel]] = []
        for arg in get_args(annotation):
            out.extend(_models(arg))
        return out
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _type_text(annotation: Any) -> str:
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in get_args(annotation))
    if origin is tuple:
        return f"list of {_type_text(get_args(annotation)[0])}"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_text(a) for a in get_args(annotation) if a is not type(None))
    return getattr(annotation, "__name__", str(annotation))


def _bounds(field: FieldInfo) -> str:
    unit = "characters" if _unwrap(field.annotation) is str else "items"
    parts = []
    for item in field.metadata:
        for name, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, name, None)
            if value is not None:
                parts.append(f"{sign} {value:g}" if isinstance(value, float) else f"{sign} {value}")
        for name, sign in (("min_length", "≥"), ("max_length", "≤")):
            value = getattr(item, name, None)
            if value is not None:
                parts.append(f"{sign} {value} {unit}")
    return ", ".join(parts)


def _default_text(field: FieldInfo) -> str:
    value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, tuple) and value and isinstance(value[0], BaseModel):
        return f"{len(value)} entries"
    text = json.dumps(value, default=str)
    return f"`{text}`" if len(text) <= 40 else f"`{text[:37]}...`"


def field_rows(model: type[BaseModel] = Scenario, prefix: str = "") -> list[tuple[str, ...]]:
    """One row per scalar field, depth first: (path, type, default, bounds, description).

    Fields of a union of kinds are listed under ``path[kind=...]``; list items under
    ``path[]``.
    """
    rows: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        models = _models(field.annotation)
        if name == "kind" and prefix.endswith("]."):
            continue  # the flavour is already in the path: ``[kind=x]``
        if not models:
            rows.append(
                (
                    path,
                    _type_text(field.annotation),
                    _default_text(field),
                    _bounds(field),
                    field.description or "",
                )
            )
            continue
        listed = get_origin(_unwrap(field.annotation)) is tuple
        for sub in models:
            kind = sub.model_fields.get("kind")
            tag = f"[kind={kind.default}]" if kind is not None and len(models) > 1 else ""
            rows.extend(field_rows(sub, f"{path}{'[]' if listed else ''}{tag}."))
    return rows


def markdown_reference() -> str:
    """``docs/scenarios.md``: every scenario field with its type, default, bounds and unit."""
    lines = [
        "# Scenario reference",
        "",
        "Generated from `ledgerlab/scenarios/schema.py` by `ledgerlab schema --markdown`",
        "(`make docs`); a test fails when this file is stale. Every field has a default, so a",
        "scenario file states only what differs from the baseline. The unit of each field",
        "closes its description, in parentheses. `path[]` is an item of a list;",
        "`path[kind=x]` are the fields of the flavour `kind: x`.",
        "",
    ]
    section = None
    for path, type_, default, bounds, description in field_rows():
        top = path.split(".")[0].split("[")[0] if "." in path else ""
        if top != section:
            section = top
            title = f"`{top}`" if top else "Top level"
            lines += ["", f"## {title}", "", "| field | type | default | bounds | description |"]
            lines += ["|---|---|---|---|---|"]
        cells = (f"`{path}`", type_, default, bounds, description.replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
