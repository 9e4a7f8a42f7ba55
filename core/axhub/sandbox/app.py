"""A sandbox as an app: the provider's routes plus the ``/_control`` routes tests use
(counters, faults, token expiry and revocation, reset), and small helpers for its
routes (redirects, form bodies)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Iterable

from litestar import Litestar, Request, Response, delete, get, post
from litestar.params import JSONBody
from litestar.response import Redirect

from .faults import Fault, Faults
from .oauth_server import OAuthServer
from .persist import Getter, SandboxState

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def _control_routes(server: OAuthServer | None, faults: Faults, extra_stats: Callable[[], dict] | None, on_reset: Callable[[], None] | None) -> list[Any]:
    @get("/_control/stats", sync_to_thread=False)
    def stats() -> dict[str, Any]:
        data: dict[str, Any] = {"counters": dict(server.counters) if server else {},
                                # Requests that came back before an injected Retry-After ran out.
                                "earlyRetries": faults.early}
        if server:
            data["liveAccessTokens"] = sum(1 for i in server.access.values() if i.expires_at > time.time())
            data["liveRefreshTokens"] = len(server.refresh_tokens)
        if extra_stats:
            data.update(extra_stats())
        return data

    @get("/_control/tokens", sync_to_thread=False)
    def tokens() -> dict[str, Any]:
        # Test-only: lets a test look for the exact secrets the provider issued (in the
        # hub's database, logs and responses, where they must never appear in clear).
        if server is None:
            return {"accessTokens": [], "refreshTokens": []}
        return {"accessTokens": sorted(server.access), "refreshTokens": sorted(server.refresh_tokens),
                "everIssued": sorted(server.ever_issued)}

    @post("/_control/config", status_code=200, sync_to_thread=False)
    def configure(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        if server is not None:
            if "accessTokenTtl" in data:
                server.access_ttl = int(data["accessTokenTtl"])
            if "rotateRefreshTokens" in data:
                server.rotate_refresh = bool(data["rotateRefreshTokens"])
        return {"accessTokenTtl": server.access_ttl if server else None}

    @post("/_control/faults", status_code=200, sync_to_thread=False)
    def add_fault(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        faults.rules.append(
            Fault(
                path=str(data["path"]),
                status=int(data.get("status", 500)),
                method=data.get("method"),
                count=int(data.get("count", 1)),
                body=data.get("body"),
                headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
                delay=float(data.get("delay", 0)),
                after=int(data.get("after", 0)),
            )
        )
        return {"faults": len(faults.rules)}

    @delete("/_control/faults", status_code=200, sync_to_thread=False)
    def clear_faults() -> dict[str, Any]:
        faults.clear()
        return {"faults": 0}

    @post("/_control/expire-access-tokens", status_code=200, sync_to_thread=False)
    def expire() -> dict[str, Any]:
        if server:
            server.expire_access_tokens()
        return {"ok": True}

    @post("/_control/revoke-all", status_code=200, sync_to_thread=False)
    def revoke_all() -> dict[str, Any]:
        if server:
            server.revoke_all()
        return {"ok": True}

    @post("/_control/reset", status_code=200, sync_to_thread=False)
    def reset() -> dict[str, Any]:
        faults.clear()
        if server:
            server.reset()
        if on_reset:
            on_reset()
        return {"ok": True}

    return [stats, tokens, configure, add_fault, clear_faults, expire, revoke_all, reset]


def build_app(
    routes: Iterable[Any],
    *,
    server: OAuthServer | None,
    faults: Faults | None = None,
    render_fault: Callable[[Fault], Response] | None = None,
    extra_stats: Callable[[], dict] | None = None,
    on_reset: Callable[[], None] | None = None,
    persist: dict[str, Getter] | None = None,
) -> Litestar:
    """A sandbox app: the provider's ``routes`` + ``/_control``, with fault injection.

    ``render_fault`` turns an injected fault into the provider's error shape when the
    test gave no body of its own; ``extra_stats`` adds to ``GET /_control/stats`` and
    ``on_reset`` clears the sandbox's own data on ``POST /_control/reset``.

    ``persist`` names the objects that hold the sandbox's data, each as a function
    returning the live object (a dict, list, set or any object with attributes): with
    the authorization server's grants and tokens, the hub keeps them in its data folder
    so a demo survives a restart (:class:`~axhub.sandbox.persist.SandboxState`)."""
    faults = faults or Faults()
    objects = {"oauth": (lambda: server)} if server is not None else {}
    state = SandboxState({**objects, **(persist or {})}, refs={"faults": lambda: faults})

    async def after_response(request: Request) -> None:
        if request.method not in _READS:  # any write may have changed the data
            state.changed()

    async def inject(request: Request) -> Response | None:
        if request.url.path.startswith("/_control"):
            return None
        rule = faults.take(request.method, request.url.path)
        if rule is None:
            return None
        if rule.delay:
            await asyncio.sleep(rule.delay)
        if rule.status == 0:
            return None
        if rule.body is None and render_fault is not None:
            response = render_fault(rule)
            response.headers.update(rule.headers)
            return response
        return Response(content=rule.body if rule.body is not None else {"error": "injected"}, status_code=rule.status, headers=rule.headers)

    app = Litestar(
        route_handlers=[*routes, *_control_routes(server, faults, extra_stats, on_reset)],
        before_request=inject,
        after_response=after_response,
        openapi_config=None,
        logging_config=None,
    )
    app.state.faults = faults
    app.state.oauth = server
    app.state.sandbox_state = state
    return app


def redirect(url: str) -> Redirect:
    """A 302 to ``url`` (an authorize route's answer)."""
    return Redirect(url, status_code=302)


async def form_of(request: Request) -> dict[str, str]:
    """A form-encoded body as a plain dict (a token route's request)."""
    form = await request.form()
    return {k: str(v) for k, v in form.items()}
