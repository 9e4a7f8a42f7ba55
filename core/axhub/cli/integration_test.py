"""``axhub integrations test ID [--send-test-message]``: the connection test of
``POST /api/integrations/:id/test`` from the command line, for an operator — with
``--send-test-message``, a test notice to each channel a notifying integration (Slack,
Teams) names, attempted at once and recorded in its messages log. Prints the API's
``data`` as JSON; an unknown integration or a refusal prints the API's error and
exits 1."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import msgspec

from ..config import Config


def _run(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from ..api.wiring import build_services
    from ..auth import Identity
    from ..db import Integration
    from ..errors import ApiError
    from ..integrations import manage
    from ..integrations.schemas import TestIn

    async def run() -> tuple[int, bytes]:
        svc = build_services(Config.from_env())
        try:
            async with svc.db.session() as s:
                org_id = await s.scalar(select(Integration.org_id).where(Integration.id == args.integration_id))
            if org_id is None:
                return 1, json.dumps({"code": "NOT_FOUND", "message": f"no integration {args.integration_id}"}).encode()
            operator = Identity(user_id="axhub-cli", org_id=org_id, role="admin", name="axhub CLI")
            try:
                out = await manage.test(svc, operator, args.integration_id, TestIn(send_test_message=args.send_test_message))
            except ApiError as exc:
                return 1, json.dumps({"code": exc.code, "message": exc.message, "field": exc.field}).encode()
            await svc.tasks.drain()
            return 0, msgspec.json.encode(out)
        finally:
            await svc.aclose()

    code, body = asyncio.run(run())
    (sys.stdout if code == 0 else sys.stderr).write(json.dumps(json.loads(body), ensure_ascii=False, indent=2) + "\n")
    return code


def add_parser(sub) -> None:
    integrations = sub.add_parser("integrations", help="integrations: test one (and send it a test message)")
    isub = integrations.add_subparsers(dest="integrations_command", required=True)
    test = isub.add_parser("test", help="test an integration's connection, as POST /api/integrations/ID/test")
    test.add_argument("integration_id", metavar="ID", help="the integration to test (int-…)")
    test.add_argument("--send-test-message", action="store_true",
                      help="also post a test message to each channel the integration names (Slack, Teams)")
    test.set_defaults(func=_run)
