"""What the console's browser tests share: the system Chromium under Playwright, the
folder the screenshots go to, and signing in through the page."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A reviewer looks here after a run (or wherever AXHUB_CONSOLE_SCREENSHOTS points).
SCREENSHOTS = Path(os.environ.get("AXHUB_CONSOLE_SCREENSHOTS") or ROOT / "build" / "console-screenshots")


def chromium_path() -> str | None:
    for candidate in (os.environ.get("AXHUB_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                      "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def unavailable(reason: str) -> None:
    """In CI a missing browser is a failure (the tests would pass by not running); on a
    developer's machine a skip that says what to install."""
    if os.environ.get("CI"):
        pytest.fail(f"console browser tests cannot run: {reason}")
    pytest.skip(reason)


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, hub, token: str) -> None:
    page.goto(f"{hub.url}/console/sign-in")
    page.fill("#token", token)
    page.click("form[action='/console/sign-in'] button[type=submit]")
