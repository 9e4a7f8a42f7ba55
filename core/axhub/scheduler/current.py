"""Which hub a running job belongs to: APScheduler calls jobs by reference with plain
arguments, so each job finds its hub's Services through the scheduler running it
(several hubs may share a process, as in the test suite)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..runtime.services import Services

_hubs: dict[Any, "Services"] = {}


def register(scheduler: Any, svc: "Services") -> Callable[[], None]:
    """Make ``svc`` the hub of the jobs ``scheduler`` runs; returns the undoing."""
    _hubs[scheduler] = svc
    return lambda: _hubs.pop(scheduler, None)


def services_of_current_job() -> "Services":
    from apscheduler import current_async_scheduler

    scheduler = current_async_scheduler.get()
    try:
        return _hubs[scheduler]
    except KeyError:
        raise RuntimeError("no axhub hub is running this scheduler") from None
