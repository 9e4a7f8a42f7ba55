"""A sandbox's state kept in the hub's data folder, so that a demo survives a restart:
the grants and tokens its authorization server issued, and whatever data the sandbox
declares (calendars, channels, meetings, workspaces).

A sandbox names the objects that hold its data (``build_app(persist={...})``, each a
zero-argument function returning the live object, since a reset may replace one). The
core attaches the file when it mounts the sandbox; the state is read back at once, and
written a moment after the requests that may change it (debounced, so a burst of writes
costs one save) and when the hub stops.

The file is a pickle in the hub's private data folder (mode 0700, beside the vault key:
whoever may write there may read every secret already). It holds test data only. Live
objects referenced from the saved ones — the authorization server, the fault rules, one
declared object from another — are written by name and bound to the live ones on load,
so routes that closed over them keep seeing one object. A file that no longer reads
(another version of the sandbox) is set aside and the sandbox starts empty, saying so.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import pickle
import time
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger("axhub.sandbox")

Getter = Callable[[], object]
DEBOUNCE, MAX_DELAY = 1.0, 10.0  # seconds: save once the writes pause, at least this often during a burst
_CONTAINERS = (dict, list, set)


class _Pickler(pickle.Pickler):
    def __init__(self, file, live: dict[int, str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.live = live

    def persistent_id(self, obj: Any) -> str | None:
        return self.live.get(id(obj))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, live: dict[str, Getter]) -> None:
        super().__init__(file)
        self.live = live

    def persistent_load(self, name: str) -> object:
        if name not in self.live:
            raise pickle.UnpicklingError(f"no live object named {name!r}")
        return self.live[name]()


def _state_of(obj: object) -> object:
    """What is saved of a declared object: a copy of its container, or its state as
    pickle's protocol gives it (``__getstate__``: its attributes, unless the class says
    otherwise, as one that holds a function does)."""
    if isinstance(obj, _CONTAINERS):
        return type(obj)(obj)
    state = obj.__getstate__()
    return dict(state) if isinstance(state, dict) else state


def _apply(obj: object, state: Any) -> None:
    """``state`` into the live ``obj``, in place (routes hold the object itself)."""
    if hasattr(obj, "__setstate__"):
        obj.__setstate__(state)
    elif isinstance(obj, dict):
        obj.clear()
        obj.update(state)
    elif isinstance(obj, list):
        obj[:] = state
    elif isinstance(obj, set):
        obj.clear()
        obj.update(state)
    else:
        vars(obj).update(state)


class SandboxState:
    """The declared objects of one sandbox, and the file they are kept in once attached."""

    def __init__(self, objects: dict[str, Getter], refs: dict[str, Getter] | None = None) -> None:
        self.objects = objects
        self.refs = {**(refs or {}), **objects}  # every live object a saved one may point at
        self.path: Path | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._first_change = 0.0

    def attach(self, path: Path) -> None:
        """Keep the state in ``path`` from now on, reading what it holds first."""
        self.path = path
        self.load()

    def load(self) -> bool:
        """Read the attached file into the live objects: whether there was a state to read."""
        if self.path is None or not self.path.exists():
            return False
        try:
            with self.path.open("rb") as file:
                saved = _Unpickler(file, self.refs).load()
            for name, state in saved.items():
                if name in self.objects:
                    _apply(self.objects[name](), state)
        except Exception as exc:  # any unreadable file: another version's, or a torn one
            aside = self.path.with_suffix(".unreadable")
            os.replace(self.path, aside)
            log.warning("sandbox state in %s could not be read (%s: %s); set aside as %s, the sandbox starts empty",
                        self.path, type(exc).__name__, exc, aside.name)
            return False
        return True

    def save(self) -> None:
        """Write the state now (to a temporary file, then in place: a reader never sees half)."""
        self._cancel()
        if self.path is None:
            return
        live = {id(getter()): name for name, getter in self.refs.items()}
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, live).dump({name: _state_of(getter()) for name, getter in self.objects.items()})
        except Exception as exc:  # a sandbox that declared something that does not pickle
            log.warning("sandbox state for %s not saved: %s: %s", self.path.stem, type(exc).__name__, exc)
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = self.path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(buffer.getvalue())
        os.replace(partial, self.path)

    def changed(self) -> None:
        """A request may have changed the state: save once the writes pause."""
        if self.path is None:
            return
        now = time.monotonic()
        if self._timer is None:
            self._first_change = now
        else:
            self._timer.cancel()
        delay = min(DEBOUNCE, max(0.0, self._first_change + MAX_DELAY - now))
        self._timer = asyncio.get_running_loop().call_later(delay, self.save)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
