"""Signing in and out: a bearer token (the API's JWT) pasted once, kept in the signed
session cookie, never in a URL; in sandbox mode a one-click demo sign-in."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.response import Redirect, Template

from ..auth import create_token, verify_token
from ..errors import ApiError
from . import session
from .web import form, render, see_other, services

DEMO = {"org": "demo", "user": "demo-admin", "name": "Demo Admin", "role": "admin"}


@get("/", include_in_schema=False)
async def home() -> Redirect:
    return see_other("/console")


@get("/console", include_in_schema=False)
async def console_root() -> Redirect:
    return see_other("/console/integrations")


@get("/console/sign-in", include_in_schema=False)
async def sign_in_page(request: Request) -> Template:
    return render(request, "sign_in.html")


def _signed_in(request: Request, token: str) -> Redirect:
    response = see_other("/console/integrations")
    session.set_session(response, request, services(request).config.jwt_secret, token)
    return response


@post("/console/sign-in", include_in_schema=False)
async def sign_in(request: Request) -> Redirect | Template:
    data = await form(request)
    token = data.get("token", "").strip().removeprefix("Bearer ").strip()
    try:
        who = verify_token(services(request).config.jwt_secret, f"Bearer {token}")
    except ApiError as exc:
        return render(request, "sign_in.html", status=401, error=exc.message)
    if not who.at_least("manager"):
        # The API refuses members every integration route; the console does the same.
        return render(request, "sign_in.html", status=403,
                      error="members cannot use the console: sign in with a manager's or an admin's token")
    return _signed_in(request, token)


@post("/console/demo-sign-in", include_in_schema=False)
async def demo_sign_in(request: Request) -> Redirect | Template:
    await form(request)
    svc = services(request)
    if not svc.config.sandbox:
        return render(request, "sign_in.html", status=404, error="the demo sign-in exists only in sandbox mode")
    token = create_token(svc.config.jwt_secret, org=DEMO["org"], role=DEMO["role"], user=DEMO["user"], name=DEMO["name"],
                         ttl=session.MAX_AGE)
    return _signed_in(request, token)


@post("/console/sign-out", include_in_schema=False)
async def sign_out(request: Request) -> Redirect:
    await form(request)
    response = see_other("/console/sign-in")
    session.clear_session(response)
    return response
