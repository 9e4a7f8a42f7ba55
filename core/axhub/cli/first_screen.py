"""What ``axhub serve`` prints once it listens: where, the console and the OpenAPI, the
database, the plugins loaded and — in sandbox mode only, where the hub is a demo on the
operator's own machine — a ready manager token and one ``curl`` line that works as
printed. Real deployments get no token: theirs are signed by the Attendance-X back end."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Config
    from ..plugins import PluginManager

DEMO_TTL = 30 * 86400  # a demo token outlives the demo (a day's work, a restart, a week-end)
DEMO_IDENTITY = {"org": "acme", "role": "manager", "user": "u-1", "name": "Marie Dubois"}


def database_shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def lines(config: "Config", plugins: "PluginManager", listening: str) -> list[str]:
    from ..auth import create_token

    loaded = [r.name for r in plugins.records.values() if r.status == "loaded"]
    other = [f"{r.name} ({r.status})" for r in plugins.records.values() if r.status != "loaded"]
    base = config.public_url
    out = [
        f"axhub is listening on {listening}",
        f"  console   {base}/console",
        f"  OpenAPI   {base}/schema",
        f"  database  {database_shown(config.database_url)}",
        f"  plugins   {', '.join(loaded) or 'none'}" + (f"; not loaded: {', '.join(other)}" if other else ""),
        f"  data      {config.data_dir}",
    ]
    if not config.sandbox:
        out.append("  providers real (AXHUB_<SLUG>_CLIENT_ID/SECRET); tokens come from the Attendance-X back end")
        return out
    token = create_token(config.jwt_secret, ttl=DEMO_TTL, **DEMO_IDENTITY)
    out += [
        f"  providers sandboxes at {config.sandbox_url or base + '/sandbox'}",
        "",
        f"A manager token of organisation {DEMO_IDENTITY['org']!r} for the demo (valid 30 days):",
        f"  TOKEN={token}",
        "Try it:",
        "  curl -s " + shlex.quote(f"{base}/api/integrations") + " -H "
        + shlex.quote(f"Authorization: Bearer {token}"),
        "Next: README.md, \"A five-minute tour with curl\"; `axhub doctor` checks the set-up.",
    ]
    return out
