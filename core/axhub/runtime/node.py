"""Which process of which machine this is (a node), and whether another node of the same
machine is still alive: what lets a starting hub close the runs its dead predecessor
left, at once, while never touching a run that a live process still owns."""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path


@functools.cache
def machine() -> str:
    """The host name and its boot id: the same machine as long as it has not rebooted
    (a reboot ends every process, so a node of an earlier boot is gone)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = "-"
    return f"{socket.gethostname()}/{boot}"


def identity() -> str:
    """This process: ``{host}/{boot id}:{pid}``, read each time (a fork is another node)."""
    return f"{machine()}:{os.getpid()}"


def gone(node: str | None) -> bool:
    """True only when ``node`` is known dead: a process of this machine (same host name,
    same boot) that no longer exists. Anything else — another machine, an earlier boot
    (another machine may bear the same name), a pid taken again by a new process — is
    taken as alive, and its lease decides (a run whose lease lapsed is taken over,
    whoever held it). Processes that share a host name must share their process ids
    too (one machine, or containers with host names of their own, as by default)."""
    if not node or ":" not in node:
        return False
    where, _, pid = node.rpartition(":")
    if where != machine() or where.endswith("/-") or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False  # this very process
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False
