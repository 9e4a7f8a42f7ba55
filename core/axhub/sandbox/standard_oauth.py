"""The OAuth 2.0 endpoints of a provider that speaks the standard (RFC 6749 authorize
and token, RFC 7009 revocation, JSON bodies, ``error``/``error_description``): routes
over an :class:`OAuthServer` for a sandbox whose provider has no quirks there. A
provider with its own shapes (Slack's ``ok: false``, Zoom's account grants) writes its
own routes on the same server instead."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from .app import form_of, redirect
from .oauth_server import OAuthServer, TokenError, client_credentials


def oauth_routes(server: OAuthServer, *, authorize: str = "/oauth/authorize", token: str = "/oauth/token",
                 revoke: str = "/oauth/revoke") -> list[Any]:
    """The authorize, token (``authorization_code``, ``refresh_token``) and revoke
    routes, at these paths."""

    @get(authorize)
    async def authorize_route(request: Request) -> Response:
        try:
            return redirect(server.authorize(dict(request.query_params)))
        except TokenError as exc:
            return Response({"error": exc.error, "error_description": exc.description}, status_code=400)

    @post(token)
    async def token_route(request: Request) -> Response:
        form = await form_of(request)
        try:
            server.check_client(*client_credentials(request, form)[:2])
            if form.get("grant_type") == "authorization_code":
                issued = server.exchange(form.get("code"), form.get("redirect_uri"), form.get("code_verifier"))
            elif form.get("grant_type") == "refresh_token":
                issued = server.refresh(form.get("refresh_token"))
            else:
                raise TokenError("unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
        except TokenError as exc:
            return Response({"error": exc.error, "error_description": exc.description}, status_code=exc.status)
        return Response({"access_token": issued.access_token, "token_type": "Bearer", "expires_in": issued.expires_in,
                         "refresh_token": issued.refresh_token, "scope": " ".join(issued.scopes)})

    @post(revoke)
    async def revoke_route(request: Request) -> Response:
        form = await form_of(request)
        try:
            server.check_client(*client_credentials(request, form)[:2])
        except TokenError as exc:
            return Response({"error": exc.error}, status_code=exc.status)
        server.revoke(form.get("token"))
        return Response({}, status_code=200)

    return [authorize_route, token_route, revoke_route]
