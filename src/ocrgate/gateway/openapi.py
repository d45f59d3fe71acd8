"""The OpenAPI document with each backend's request options, as its workers publish them, and `/docs`.

FastAPI builds the document from the routes once; the options of each configured backend are added
on every read, under `components.schemas` as `Options_<backend>`, from the JSON Schema in its
workers' `GET /v1/info` (so a client discovers `lang`, `text_score`, ... without reading errors).

`/docs` is Swagger UI served by the gateway itself, from the files of the `swagger-ui-bundle-v2`
package (Swagger UI 5.x, Apache-2.0; 5.x reads the OpenAPI 3.1 documents FastAPI writes), so it works
without network; FastAPI's default page loads them from a CDN. Its one inline script (FastAPI's
`get_swagger_ui_html`) is allowed by its hash in the page's Content-Security-Policy, nothing else is.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from swagger_ui_bundle import swagger_ui_path

from ocrgate.gateway.routing import Router


def _component(name: str) -> str:
    return "Options_" + re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def hoist_defs(schema: dict[str, Any], prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """`schema` with its `$defs` moved out as components named `prefix_<def>` and refs rewritten.

    JSON Schema's local refs (`#/$defs/X`) do not resolve once a schema sits inside an OpenAPI
    document, so each definition becomes a component of its own (`#/components/schemas/...`).
    """
    schema = copy.deepcopy(schema)
    defs = schema.pop("$defs", {})

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node = {**node, "$ref": f"#/components/schemas/{prefix}_{ref.removeprefix('#/$defs/')}"}
            return {k: rewrite(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    return rewrite(schema), {f"{prefix}_{k}": rewrite(v) for k, v in defs.items()}


def body_components(models: Sequence[type[BaseModel]]) -> dict[str, Any]:
    """Components for request bodies a route reads itself (FastAPI documents only those it parses):
    each model under its class name, its nested models beside it."""
    components: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return components


def install_openapi(app: FastAPI, router: Router, body_models: Sequence[type[BaseModel]] = ()) -> None:
    """Make `app.openapi()` carry each described backend's options schema, and `body_models`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemas = app.openapi_schema.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in body_components(body_models).items():
                schemas.setdefault(name, schema)
        document = copy.deepcopy(app.openapi_schema)
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for name, pool in router.pools.items():
            if pool.info is None:
                continue
            component = _component(name)
            schema, defs = hoist_defs(pool.info.options_schema, component)
            schema["title"] = f"options of backend {name}"
            components[component] = schema
            components.update(defs)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


DOCS_STATIC = "/docs/static"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_csp(page: bytes) -> str:
    """The docs page's policy: the web client's rules (`web_server.web_csp`: own origin only, no inline
    style), plus the page's own inline script, allowed by its SHA-256 hash (CSP Level 2)."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        f"script-src 'self' {hashes}; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )


def install_docs(app: FastAPI) -> None:
    """`/docs`: Swagger UI with its JavaScript and CSS from `/docs/static` (no CDN, works offline)."""
    app.mount(DOCS_STATIC, StaticFiles(directory=swagger_ui_path), name="docs-static")
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} API",
        swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_STATIC}/favicon-32x32.png",
        oauth2_redirect_url=None,
    ).body
    headers = {"Content-Security-Policy": docs_csp(page)}

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=headers)
