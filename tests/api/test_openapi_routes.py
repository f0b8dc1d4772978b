"""Every ``/api/`` route the public app registers is in the OpenAPI document, and every documented
operation is a route: a handler added without its documentation (as ``POST /api/v1/messages`` once
was) fails here, and so does a documented operation that no longer exists."""

from __future__ import annotations

import re

from helpline.ingest import public
from helpline.ingest.http import openapi

from ..conftest import make_settings


def _canonical(path: str) -> str:
    """aiohttp's ``{name:regex}`` as OpenAPI's ``{name}``."""
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*):[^}]*\}+(?=/|$)", r"{\1}", path)


def _registered(tmp_path) -> set[tuple[str, str]]:
    app = public.make_app(make_settings(tmp_path))
    out = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/") and route.method not in ("HEAD", "OPTIONS"):
            out.add((route.method, _canonical(path)))
    return out


def _documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in openapi.document()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_canonical_strips_route_patterns() -> None:
    assert _canonical("/a/{sha:[0-9a-f]{64}}") == "/a/{sha}"
    assert _canonical("/a/{sid}/{action:send|dismiss}") == "/a/{sid}/{action}"


def test_every_api_route_is_documented(tmp_path) -> None:
    registered = _registered(tmp_path)
    assert ("POST", "/api/v1/messages") in registered
    assert registered - _documented() == set(), "routes missing from ingest/http/openapi.py"


def test_every_documented_operation_is_a_route(tmp_path) -> None:
    assert _documented() - _registered(tmp_path) == set(), "documented operations without a route"


def test_operation_ids_are_unique() -> None:
    ids = [
        op["operationId"]
        for item in openapi.document()["paths"].values()
        for key, op in item.items()
        if key != "parameters"
    ]
    assert len(ids) == len(set(ids))
