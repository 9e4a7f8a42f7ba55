"""``axhub plugin new``: a ready provider plugin package from the templates in
``plugin_template/`` (shipped in the wheel): pyproject with the entry point, the hook
module, settings, a sandbox on :class:`axhub.sandbox.OAuthServer`, the conformance
test and a README. It installs, is discovered and passes the conformance suite as is.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from importlib import resources
from pathlib import Path
from string import Template

PLUGIN_TYPES = ("calendar", "communication", "video")
SLUG = re.compile(r"[a-z][a-z0-9]{1,30}")


def core_requirement(version: str) -> str:
    """The core versions a new plugin declares: this minor series while the core is 0.x
    (its hook API may change between minors), this major series from 1.0."""
    major, minor = (int(x) for x in version.split(".")[:2])
    if major == 0:
        return f"axhub>=0.{minor},<0.{minor + 1}"
    return f"axhub>={major}.{minor},<{major + 1}"


_SETTINGS = {
    "calendar": "    event_types: list[str] = []  # only these types are sent (all when empty)\n",
    "communication": "",  # settings_communication.py.tmpl
    "video": "    waiting_room: bool = True\n",
}
_SCOPES = {
    "calendar": [("calendar.read", "calendar:read", "read_calendar", "Read the user's calendars and events"),
                 ("calendar.write", "calendar:write", "write_calendar", "Create, change and delete events")],
    "communication": [("messages.send", "messages:write", "send_messages", "Post messages in the workspace's channels")],
    "video": [("meetings.read", "meetings:read", "read_meetings", "Read the user's meetings"),
              ("meetings.write", "meetings:write", "create_meetings", "Create and change meetings")],
}
_DESCRIPTIONS = {
    "calendar": "Events synced with {name} calendars.",
    "communication": "Event reminders, attendance alerts, weekly reports and system notices posted to {name}.",
    "video": "{name} meetings for Attendance-X events.",
}

_NAMES = ("Endpoint", "OAuthProfile", "ProviderInfo", "Scope", "hookimpl")
_CALENDAR_TESTS = '''

class TestCalendarConformance(CalendarConformance):
    provider = "{slug}"
    list_path = "/api/events"
    refusing_filters = {{"eventTypes": ["training"]}}
'''
_NOTIFY_TESTS = '''

class TestNotifierConformance(NotifierConformance):
    provider = "{slug}"
    notification = ("eventReminder", {{"title": "Kick-off", "start": "2030-01-01T09:00:00Z"}})
    send_path = "/api/posts"

    def sent(self, hub):
        return len(hub.sandbox(self.provider).get("/_control/posts").json()["posts"])
'''
_KIT = "OAuthServer, build_app, oauth_routes"
# What each type adds to the common files: hook code and the sandbox routes it calls (in
# plugin_template/), imports, capabilities, and its conformance class.
_PARTS: dict[str, dict[str, str]] = {
    "calendar": {
        "capabilities": "calendar_sync",
        "stdlib": "\nimport hashlib\nfrom datetime import datetime\nfrom typing import Any, AsyncIterator, Sequence\n\n"
                  "import msgspec\n",
        "names": "CleanupReport Connection CursorExpired EventData Page ProviderContext ProviderError RemoteEvent "
                 "WriteOp WriteResult oauth_hooks read_ahead remove_created with_retries",
        "hooks": "calendar_hooks.py.tmpl", "sandbox_routes": "calendar_sandbox.py.tmpl",
        "litestar_names": ", delete, patch, post", "sandbox_imports": "from litestar.params import FromPath\n",
        "sandbox_kit": f"CalendarStore, Conflict, CursorGone, {_KIT}, StoredEvent",
        "sandbox_reset": "        calendar.reset()\n",
        "sandbox_persist": ', "calendar": lambda: calendar',
        "sandbox_route_names": ", list_events, create_event, update_event, delete_event, *calendar.control_routes()",
        "conformance_doc": ", events synced both ways (the calendar conformance suite)",
        "conformance_import": "from axhub.testing.calendar import CalendarConformance\n"
                              "from axhub.testing.conformance import ProviderConformance",
        "tests": _CALENDAR_TESTS,
    },
    "communication": {
        "capabilities": "notify",
        "stdlib": "\nimport re\nfrom urllib.parse import quote\n\nimport httpx\n",
        "names": "Chat ProviderContext",
        "hooks": "communication_hooks.py.tmpl", "sandbox_routes": "communication_sandbox.py.tmpl",
        "litestar_names": ", post", "sandbox_imports": "from litestar.params import FromPath\n",
        "sandbox_route_names": ", list_channels, user_by_email, send, sent",
        "conformance_doc": ", notifications delivered once and failures reported",
        "conformance_import": "from axhub.testing.conformance import NotifierConformance, ProviderConformance",
        "tests": _NOTIFY_TESTS,
    },
    "video": {},
}


def render(slug: str, plugin_type: str, version: str) -> dict[str, str]:
    """The package's files: relative path → text."""
    name = slug.capitalize()
    notifying = plugin_type == "communication"
    parts = _PARTS[plugin_type]
    folder = resources.files("axhub.cli") / "plugin_template"
    scopes = _SCOPES[plugin_type]

    def code(key: str) -> str:
        return (folder / parts[key]).read_text() if key in parts else ""

    values = {
        "slug": slug, "name": name, "upper": slug.upper(), "type": plugin_type,
        "description": _DESCRIPTIONS[plugin_type].format(name=name),
        "core_requirement": core_requirement(version),
        "scopes": "\n".join(f'        Scope("{n}", ("{p}",), ("{perm}",), "{d}"),' for n, p, perm, d in scopes),
        "default_scopes": ", ".join(f'"{n}"' for n, *_ in scopes) + ("," if len(scopes) == 1 else ""),
        "capabilities": ", ".join(f'"{c}"' for c in ("oauth", "pkce", "refresh", "revoke", *parts.get("capabilities", "").split())),
        "stdlib": parts.get("stdlib", ""),
        "axhub_names": textwrap.fill(", ".join(sorted({*_NAMES, *parts.get("names", "").split()})) + ",", width=100,
                                     initial_indent="    ", subsequent_indent="    ") + "\n",
        "hooks": code("hooks"),
        "settings_base": "SyncSettings" if plugin_type == "calendar" else "Settings",
        "settings": _SETTINGS[plugin_type],
        "sandbox_routes": code("sandbox_routes"),
        "sandbox_kit": parts.get("sandbox_kit", _KIT),
        "sandbox_reset": parts.get("sandbox_reset", ""),
        "sandbox_persist": parts.get("sandbox_persist", ""),
        **{k: parts.get(k, "") for k in ("litestar_names", "sandbox_imports", "sandbox_route_names", "conformance_doc")},
        "conformance_import": parts.get("conformance_import", "from axhub.testing.conformance import ProviderConformance"),
        "conformance_classes": f'class TestProviderConformance(ProviderConformance):\n    provider = "{slug}"\n'
                               + parts.get("tests", "").format(slug=slug),
    }
    files = {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        f"axhub_{slug}/__init__.py": "__init__.py.tmpl",
        f"axhub_{slug}/settings.py": "settings_communication.py.tmpl" if notifying else "settings.py.tmpl",
        f"axhub_{slug}/sandbox.py": "sandbox.py.tmpl",
        "tests/conftest.py": "conftest.py.tmpl",
        f"tests/test_{slug}_conformance.py": "test_conformance.py.tmpl",
    }
    return {path: Template((folder / template).read_text()).substitute(values) for path, template in files.items()}


def create(slug: str, plugin_type: str, parent: Path, version: str) -> Path:
    """Write the package ``axhub-<slug>`` under ``parent``; refuses to overwrite."""
    if not SLUG.fullmatch(slug):
        raise ValueError(f"{slug!r}: a plugin name is 2-31 lowercase letters and digits, starting with a letter")
    if plugin_type not in PLUGIN_TYPES:
        raise ValueError(f"--type must be one of {', '.join(PLUGIN_TYPES)}")
    root = parent / f"axhub-{slug}"
    if root.exists():
        raise FileExistsError(f"{root} already exists")
    for path, text in render(slug, plugin_type, version).items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


# -- `axhub plugin new` -------------------------------------------------------------------

def _plugin_new(args: argparse.Namespace) -> int:
    from importlib.metadata import version
    from pathlib import Path

    try:
        root = create(args.name, args.type, Path(args.dir), version("axhub"))
    except (ValueError, FileExistsError) as exc:
        print(f"axhub plugin new: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {root}\nnext: pip install -e '{root}[test]' && pytest {root}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    plugin = sub.add_parser("plugin", help="plugin authoring")
    psub = plugin.add_subparsers(dest="plugin_command", required=True)
    new = psub.add_parser("new", help="write a ready provider plugin package (axhub-NAME)")
    new.add_argument("name", help="the provider's slug: lowercase letters and digits")
    new.add_argument("--type", required=True, choices=["calendar", "communication", "video"],
                     help="what the provider does: calendar (sync), communication (notify) or video (meetings)")
    new.add_argument("--dir", default=".", help="where to write axhub-NAME/ (default: here)")
    new.set_defaults(func=_plugin_new)
