"""Fault injection for sandboxes: the next matching requests of a path answer a given
status, body and headers, or hang for a while (a slow provider), and a client that comes
back before an injected ``Retry-After`` ran out is counted."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable


@dataclasses.dataclass
class Fault:
    path: str
    status: int
    method: str | None = None
    count: int = 1
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay: float = 0.0
    after: int = 0  # let this many matching requests through first (a fault mid-listing)


class Faults:
    """Faults injected by tests: the next ``count`` matching requests get ``status``
    (0 means: hang for ``delay`` seconds, then answer normally — a slow provider).

    ``per_call`` names the paths (a predicate) whose faults the sandbox's own call
    pipeline takes, with ``take(..., per_call=True)``, instead of build_app's request
    hook: a provider with a batch endpoint runs batched calls through that pipeline, so
    a rule meets each call once, direct or batched."""

    def __init__(self, per_call: Callable[[str], bool] | None = None) -> None:
        self.rules: list[Fault] = []
        self.per_call = per_call
        # A fault that said Retry-After: until when its path is to be left alone, and how
        # many requests came back sooner (a client that does not honour Retry-After).
        self.waits: dict[tuple[str, str | None], float] = {}
        self.early = 0

    def take(self, method: str, path: str, *, per_call: bool = False) -> Fault | None:
        """The first rule matching this request, spent once (rules match a path by prefix and a
        method, or any method), or None. Also counts a request that came back before
        an injected ``Retry-After`` ran out (``early``)."""
        if not per_call and self.per_call is not None and self.per_call(path):
            return None
        now = time.monotonic()
        if any(path.startswith(p) and m in (None, method) and now < until for (p, m), until in self.waits.items()):
            self.early += 1
        for rule in self.rules:
            if path.startswith(rule.path) and (rule.method is None or rule.method == method):
                if rule.after > 0:
                    rule.after -= 1
                    return None
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
                wait = _seconds(rule.headers.get("Retry-After"))
                if wait is not None:
                    self.waits[(rule.path, rule.method)] = now + wait
                return rule
        return None

    def clear(self) -> None:
        """Forget every rule, wait and count."""
        self.rules.clear()
        self.waits.clear()
        self.early = 0


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: not what tests inject
