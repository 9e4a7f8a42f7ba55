"""The default OAuth redirect target: a page that hands ``code`` and ``state`` over.

The Attendance-X front end normally owns the redirect URI and posts the code to
``/api/integrations/{provider}/callback`` itself. When a connect request gives no
``redirectUri`` (curl, the demo), the provider sends the browser here instead; the
callback needs the caller's Bearer token, which a redirect cannot carry, so this page
only shows what to post. It echoes nothing unescaped.
"""

from __future__ import annotations

import html
import json

from litestar import Request, Response, get
from litestar.params import FromPath


@get("/oauth/{provider:str}/callback", include_in_schema=False)
async def oauth_return(request: Request, provider: FromPath[str]) -> Response:
    params = {k: v for k, v in request.query_params.items() if k in ("code", "state", "error", "error_description")}
    if "error" in params:
        body = f"<h1>{html.escape(provider)}: authorization refused</h1><p>{html.escape(params.get('error_description') or params['error'])}</p>"
    else:
        payload = html.escape(json.dumps({"code": params.get("code"), "state": params.get("state")}))
        body = (
            f"<h1>{html.escape(provider)}: authorization granted</h1>"
            f"<p>Finish the connection with <code>POST /api/integrations/{html.escape(provider)}/callback</code> and this body:</p>"
            f"<pre>{payload}</pre>"
        )
    return Response(
        f"<!doctype html><meta charset=utf-8><title>axhub</title>{body}",
        media_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Content-Security-Policy": "default-src 'none'"},
    )
