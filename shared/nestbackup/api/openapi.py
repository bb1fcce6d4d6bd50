"""The OpenAPI 3 document of the API, served at GET /api/openapi.json (no token needed), generated from the route
table and the component schemas."""
from __future__ import annotations

from typing import Any

from .routes import Param, Route, route_table
from .schemas import SCHEMAS, Schema, ref


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _parameter(param: Param) -> dict[str, Any]:
    out = {"name": param.name, "in": param.where, "required": param.required, "schema": param.schema}
    if param.description:
        out["description"] = param.description
    return out


def _operation(route: Route) -> dict[str, Any]:
    error = {"description": "an error", "content": _json(ref("Error"))}
    operation: dict[str, Any] = {"summary": route.summary}
    if route.params:
        operation["parameters"] = [_parameter(p) for p in route.params]
    if route.body:
        operation["requestBody"] = {"required": True, "content": _json(ref(route.body))}
    operation["responses"] = {str(route.status): {"description": route.answers, "content": _json(ref(route.response))},
                              **{str(status): error for status in route.errors}}
    return operation


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in route_table():
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.0.3",
        "info": {"title": "nestbackup", "version": "1",
                 "description": "Backup and restore of every resource of a Compute Nest service instance. Every "
                                "endpoint but this document needs `Authorization: Bearer <token>`."},
        "servers": [{"url": "/api"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": SCHEMAS},
        "security": [{"bearer": []}],
        "paths": paths,
    }
