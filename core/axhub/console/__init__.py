"""The web console at ``/console``: pages rendered on the server (Jinja2 through
Litestar's templates), one stylesheet and one small script served by the hub itself.

It sits beside the API in the composition root and calls the same domain services as
the API's routes; ``api/app.py`` mounts it. See ``docs/console.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from ..errors import ApiError
from . import analytics, deliveries, integration, integrations, operators, signin
from .web import Refused, SignInNeeded, api_error, refused, sign_in_needed

HERE = Path(__file__).parent


def template_config() -> TemplateConfig:
    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine)


def handlers() -> list[Any]:
    pages = Router(
        path="/",
        route_handlers=[
            signin.console_root, signin.sign_in_page, signin.sign_in, signin.demo_sign_in, signin.sign_out,
            integrations.integrations_page, integrations.start_connect, integrations.oauth_return,
            integrations.finish_connect,
            integration.integration_page, integration.save_settings, integration.test_connection, integration.sync_now,
            integration.run_status, integration.disconnect,
            deliveries.deliveries_page, deliveries.message_page, deliveries.resend, deliveries.replay,
            deliveries.rotate_secret, operators.operators_page, analytics.analytics_page,
        ],
        # A page answers in HTML: the domain's error in words, with its code and status.
        exception_handlers={ApiError: api_error, Refused: refused, SignInNeeded: sign_in_needed},
        include_in_schema=False,
    )
    static = create_static_files_router(path="/console/static", directories=[str(HERE / "static")], include_in_schema=False,
                                        name="console-static", cache_control=CacheControlHeader(max_age=3600))
    return [signin.home, pages, static]
