"""How a sync run looks in the terminal (``axhub sync``): a live bar (rich, on stderr,
so that stdout keeps only the result) fed by the run's statistics as the engine saves
them, and a summary table of what the run did."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

COLUMNS = (("created", "eventsCreated"), ("updated", "eventsUpdated"), ("deleted", "eventsDeleted"),
           ("conflicts", "conflicts"), ("errors", "errors"))


def counts(stats: dict[str, Any]) -> str:
    return " · ".join(f"{name} {stats.get(key, 0)}" for name, key in COLUMNS)


class RunProgress:
    """A bar per run: its status, events processed so far and the counts beside. The
    engine does not know ahead how many events a run will see, so the bar pulses
    until the run ends, then fills."""

    def __init__(self, what: str, run_id: str) -> None:
        self.console = Console(stderr=True)
        self.progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[status]:<9} processed {task.completed:>6.0f}  {task.fields[counts]}"),
                                 TimeElapsedColumn(), console=self.console, transient=False)
        self.task = self.progress.add_task(f"sync {what}", total=None, status="started", counts=counts({}))
        self.run_id = run_id

    def __enter__(self) -> "RunProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def update(self, status: str, stats: dict[str, Any]) -> None:
        done = status in ("completed", "partial", "failed")
        processed = stats.get("eventsProcessed", 0)
        self.progress.update(self.task, completed=processed, status=status, counts=counts(stats),
                             **({"total": max(processed, 1) if done else None}))
        if done and not processed:
            self.progress.update(self.task, completed=1)


def summary(run_id: str, status: str, stats: dict[str, Any], message: str | None, errors: list[dict[str, Any]],
            duration_ms: int | None, *, dry_run: bool) -> None:
    """The table on stdout, then what failed (at most ten per-event errors) on stderr."""
    out = Console(soft_wrap=True)
    title = f"sync {run_id}: {status}" + (" (dry run: nothing written)" if dry_run else "")
    if duration_ms is not None:
        title += f" in {duration_ms / 1000:.1f}s"
    table = Table(title=title, title_justify="left")
    for name, _key in COLUMNS:
        table.add_column(name, justify="right")
    table.add_row(*(str(stats.get(key, 0)) for _name, key in COLUMNS))
    out.print(table)
    err = Console(stderr=True, soft_wrap=True)
    if message:
        err.print(message, style="red" if status == "failed" else None, markup=False, highlight=False)
    for item in errors[:10]:
        if item.get("eventId"):
            err.print(f"  {item.get('code') or 'SYNC_FAILED'} event {item['eventId']}: {item.get('error')}",
                      markup=False, highlight=False)
    if len(errors) > 10:
        err.print(f"  … and {len(errors) - 10} more (GET /api/integrations/ID/sync/{run_id}/status)", markup=False)
