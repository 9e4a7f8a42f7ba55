"""The plugin authors' API reference (docs/reference/, mkdocs + mkdocstrings) is generated
from the docstrings: every public name must have one, and the site must build with
``--strict`` (a reference page naming something that does not exist fails it)."""

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import axhub
import axhub.chat
import axhub.hookspecs
import axhub.oauth_hooks
import axhub.retry
import axhub.sandbox
import axhub.sync
import axhub.testing
import axhub.testing.calendar
import axhub.testing.conformance

ROOT = Path(__file__).resolve().parents[1]


def _own(module) -> list[str]:
    """A module's public names: its ``__all__``, else what it defines itself."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and getattr(v, "__module__", None) == module.__name__ and (inspect.isclass(v) or inspect.isfunction(v))]
    return list(names)


PUBLIC = [axhub, axhub.sandbox, axhub.testing, axhub.sync, axhub.notifications, axhub.oauth, axhub.oauth_hooks,
          axhub.templates, axhub.retry, axhub.chat, axhub.testing.conformance, axhub.testing.calendar]


def _undocumented() -> list[str]:
    missing = [f"{m.__name__} (module)" for m in PUBLIC if not (m.__doc__ or "").strip()]
    for module in PUBLIC:
        for name in _own(module):
            value = getattr(module, name)
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue  # constants, the hookimpl marker, submodules (checked as modules)
            if not (value.__doc__ or "").strip():
                missing.append(f"{module.__name__}.{name}")
            if inspect.isclass(value):
                fields = set(getattr(value, "__dataclass_fields__", ())) | set(getattr(value, "__struct_fields__", ()))
                for attr, member in vars(value).items():
                    # A conformance suite's test_* methods: pytest's names are their docs.
                    if attr.startswith(("_", "test_")) or attr in fields or not inspect.isfunction(member):
                        continue
                    if not (member.__doc__ or "").strip():
                        missing.append(f"{module.__name__}.{name}.{attr}")
    hooks = [n for n, f in vars(axhub.hookspecs).items() if callable(f) and hasattr(f, "axhub_spec")]
    missing += [f"axhub.hookspecs.{n}" for n in hooks if not (getattr(axhub.hookspecs, n).__doc__ or "").strip()]
    return sorted(set(missing))


def test_every_public_name_has_a_docstring():
    assert _undocumented() == [], "public names the reference would show bare"


@pytest.mark.slow
def test_the_reference_builds_with_strict_and_shows_the_public_api(tmp_path):
    site = tmp_path / "site"
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    pages = {name: (site / "reference" / name / "index.html").read_text() for name in (
        "axhub", "hooks", "oauth", "notifications", "sync", "calls", "sandbox", "testing")}
    for page, names in {
        "axhub": ["ProviderInfo", "OAuthProfile", "userinfo_endpoint", "Connection", "InvalidCredentials"],
        "hooks": ["exchange_code", "test_connection", "notify", "deliver"],
        "oauth": ["authorization_url", "oauth_hooks"],
        "notifications": ["Chat", "ChatSettings", "compose", "refused"],
        "sync": ["CalendarAdapter", "RemoteEvent", "CursorExpired", "read_ahead"],
        "calls": ["with_retries", "QuotaBreaker", "retry_after", "Policy"],
        "sandbox": ["OAuthServer", "build_app", "Faults"],
        "testing": ["HubServer", "ProviderConformance", "CalendarConformance", "refusing_filters"],
    }.items():
        for name in names:
            assert name in pages[page], f"the {page} reference does not show {name}"
