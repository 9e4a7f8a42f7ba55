"""What every console page does alike: who is signed in (or a redirect to sign in), the
CSRF check of a form, and a page rendered with the context its layout needs."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template

from ..auth import Identity
from ..errors import ApiError
from ..runtime.services import Services
from . import session

HEADERS = {
    # Every asset is the hub's own: no other origin is ever needed.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self' http: https:",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class SignInNeeded(HTTPException):
    status_code = 303


class Refused(Exception):
    """A signed-in user whose role may not see the page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def services(request: Request) -> Services:
    return request.app.state.services


def viewer(request: Request, role: str = "manager") -> Identity:
    """The signed-in identity; a redirect to the sign-in page without one, a refusal
    below ``role``."""
    who = session.identity_of(services(request).config.jwt_secret, request.cookies.get(session.SESSION))
    if who is None:
        raise SignInNeeded()
    if not who.at_least(role):
        raise Refused(f"this page is for the {role} role or higher; you are {who.role}")
    return who


async def form(request: Request) -> dict[str, str]:
    """The posted form, after its CSRF field was checked (403 otherwise)."""
    data = await request.form()
    if not session.csrf_ok(services(request).config.jwt_secret, request, data.get(session.CSRF_FIELD)):
        raise Refused("the form's security token is missing or stale: reload the page and try again")
    return {k: v for k, v in data.items() if isinstance(v, str)}


def render(request: Request, name: str, *, status: int = 200, who: Identity | None = None, **context: Any) -> Template:
    svc = services(request)
    seed, new = session.csrf_seed(request)
    page = Template(
        template_name=name,
        context={"who": who, "csrf": session.csrf_token(svc.config.jwt_secret, seed), "sandbox": svc.config.sandbox,
                 "path": request.url.path, **context},
        status_code=status,
        headers=HEADERS,
    )
    if new:
        session.set_csrf(page, request, seed)
    return page


def see_other(url: str) -> Redirect:
    return Redirect(url, status_code=303, headers={"Cache-Control": "no-store"})


def sign_in_needed(request: Request, _: Exception) -> Response:
    return see_other("/console/sign-in")


def refused(request: Request, exc: Refused) -> Response:
    return render(request, "refused.html", status=403, message=exc.message)


def api_error(request: Request, exc: ApiError) -> Response:
    """An error of a domain service, in words, with the API's code and status."""
    who = session.identity_of(services(request).config.jwt_secret, request.cookies.get(session.SESSION))
    return render(request, "error.html", status=exc.status, who=who, code=exc.code, message=exc.message, field=exc.field)
