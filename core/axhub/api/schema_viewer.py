"""``/schema``: Swagger UI over the hub's OpenAPI, served from the ``swagger-ui-bundle``
wheel so it works without network (Litestar's viewers load their scripts from a CDN)."""

from __future__ import annotations

from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/schema-assets"


def viewer() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        path="/swagger",
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
    )


def assets():
    """The viewer's scripts, styles and icons, cached a day by browsers."""
    return create_static_files_router(path=ASSETS, directories=[str(swagger_ui_path)], include_in_schema=False,
                                      name="schema-assets", cache_control=CacheControlHeader(max_age=86400))
