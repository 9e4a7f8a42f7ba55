"""``axhub analytics``: the metrics endpoint's figures as a terminal table, with sparkline
trends (one character per day)."""

from __future__ import annotations

from typing import Any

TICKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None]) -> str:
    """A day without activity is a space; the rest scale from the smallest tick up."""
    present = [v for v in values if v]
    top = max(present) if present else 0
    return "".join(" " if not v else TICKS[min(len(TICKS) - 1, int(v / top * (len(TICKS) - 1)))] for v in values)


def _seconds(text: str | None) -> float | None:
    if not text:
        return None
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text[:-1])


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]


def render(org: str, data: dict[str, Any]) -> str:
    o, e = data["overview"], data["errors"]
    pct = lambda v: "-" if v is None else f"{v * 100:.1f}%"  # noqa: E731
    lines = [
        f"Integrations of {org}: {data['period']} in {data['timezone']} "
        f"({data['trends']['syncVolume'][0]['date']} to {data['trends']['syncVolume'][-1]['date']})",
        "",
        f"  integrations {o['activeIntegrations']}/{o['totalIntegrations']} active   syncs {o['totalSyncs']}   "
        f"success {pct(o['successRate'])}   response {o['averageResponseTime'] or '-'}",
        "",
    ]
    rows = [("PROVIDER", "INTEGRATIONS", "SYNCS", "SUCCESS", "RESPONSE", "CALLS", "DATA / MESSAGES")]
    for slug, p in data["byProvider"].items():
        rows.append((slug, f"{p['activeIntegrations']}/{p['integrations']}", str(p["syncs"]), pct(p["successRate"]),
                     p["averageResponseTime"] or "-", str(p["apiCalls"]),
                     p.get("dataTransferred") or f"{p.get('messagesSent', 0)} messages"))
    lines += ["  " + line for line in _table(rows)] if len(rows) > 1 else ["  no integrations"]
    volume, timing = data["trends"]["syncVolume"], data["trends"]["responseTime"]
    lines += [
        "",
        f"  syncs     |{sparkline([d['syncs'] for d in volume])}|  {sum(d['syncs'] for d in volume)} in all",
        f"  errors    |{sparkline([d['errors'] for d in volume])}|  {e['totalErrors']} ({pct(e['errorRate'])})",
        f"  response  |{sparkline([_seconds(d['averageTime']) for d in timing])}|",
    ]
    if e["commonErrors"]:
        lines += ["", "  COMMON ERRORS"]
        lines += [f"    {c['error']:<24} {c['count']:>6}  {pct(c['percentage'])}" for c in e["commonErrors"]]
    return "\n".join(lines)
