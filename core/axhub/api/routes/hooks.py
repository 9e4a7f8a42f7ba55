"""The public receiving route of providers' change notifications, ``/hooks/{slug}``
(docs/push.md). No bearer token: the provider's plugin verifies the provider's own
proof (a channel token, a signature). Bodies are small; the answer is immediate: the
signals are stored, the syncs they ask for run afterwards."""

from __future__ import annotations

from litestar import Request, Response, route
from litestar.di import NamedDependency
from litestar.params import FromPath

from ...inbound import InboundRequest
from ...push.receive import MAX_BODY, receive
from ...runtime.services import Services

Svc = NamedDependency[Services]


async def _answer(services: Services, slug: str, tail: str, request: Request) -> Response:
    inbound = InboundRequest(method=request.method, tail=tail.strip("/"),
                             headers={k.lower(): v for k, v in request.headers.items()},
                             query=dict(request.query_params.items()), body=await request.body())
    answer = await receive(services, slug, inbound)
    return Response(content=answer.body, status_code=answer.status, media_type=answer.media_type)


# Out of the OpenAPI: it is the providers' endpoint, spoken in each provider's protocol,
# not part of the Attendance-X API.
@route("/hooks/{slug:str}", http_method=["POST"], include_in_schema=False, request_max_body_size=MAX_BODY,
       status_code=200)
async def hook(services: Svc, slug: FromPath[str], request: Request) -> Response:
    return await _answer(services, slug, "", request)


@route("/hooks/{slug:str}/{tail:path}", http_method=["POST"], include_in_schema=False,
       request_max_body_size=MAX_BODY, status_code=200)
async def hook_tail(services: Svc, slug: FromPath[str], tail: FromPath[str], request: Request) -> Response:
    return await _answer(services, slug, tail, request)


handlers = [hook, hook_tail]
