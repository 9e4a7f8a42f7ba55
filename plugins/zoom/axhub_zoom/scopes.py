"""The API's abstract scopes, and Zoom's scope names behind them.

Zoom has two generations of scopes. The plugin declares the classic ones (``meeting:read``,
``meeting:write``, ``report:read:admin``, ``user:read``), which the sandbox's app uses.
Apps created since Zoom introduced granular scopes grant names such as
``meeting:write:meeting``, and admin-level apps grant ``…:admin`` variants; both are read
back as the classic scope they cover, so that permissions come out right whatever kind of
app the operator registered.
"""

from __future__ import annotations

from typing import Iterable

from axhub import Scope

MEETING_READ = "meeting:read"
MEETING_WRITE = "meeting:write"
REPORT_READ = "report:read:admin"
USER_READ = "user:read"

SCOPES = (
    Scope("meetings.read", (MEETING_READ,), ("read_meetings",), "Read the user's meetings"),
    Scope("meetings.write", (MEETING_WRITE,), ("create_meetings",), "Create and update meetings for events"),
    Scope("reports.read", (REPORT_READ,), ("read_attendance",),
          "Read meeting participant reports (attendance); needs a Zoom admin"),
    Scope("user.read", (USER_READ,), ("read_profile",), "Read the connected user's profile"),
)

# Scopes that cover a classic scope: its admin-level variant and the granular scopes of
# the calls the plugin makes with it (each set is all-of).
COVERED_BY: dict[str, tuple[frozenset[str], ...]] = {
    MEETING_READ: (frozenset({"meeting:read:admin"}), frozenset({"meeting:read:meeting"})),
    MEETING_WRITE: (frozenset({"meeting:write:admin"}),
                    frozenset({"meeting:write:meeting", "meeting:update:meeting", "meeting:delete:meeting"})),
    REPORT_READ: (frozenset({"report:read:list_meeting_participants:admin"}),),
    USER_READ: (frozenset({"user:read:admin"}), frozenset({"user:read:user"})),
}


def effective(granted: Iterable[str]) -> tuple[str, ...]:
    """``granted`` plus each classic scope that the granted admin or granular ones cover."""
    have = set(granted)
    extra = {classic for classic, alternatives in COVERED_BY.items()
             if classic not in have and any(alt <= have for alt in alternatives)}
    return tuple(sorted(have | extra))
