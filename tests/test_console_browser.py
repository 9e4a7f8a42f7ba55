"""The console in a real browser: headless Chromium (the system's, driven by Playwright)
against a hub on a loopback socket, every page photographed into SCREENSHOTS."""

from __future__ import annotations

import concurrent.futures
import re

import httpx
import pytest

from axhub.testing.receiver import Receiver
from console_browser import SCREENSHOTS, chromium_path, shot, sign_in, unavailable

ENV = {"AXHUB_OUTBOUND_ALLOW": "127.0.0.1", "AXHUB_DELIVERY_POLL": "0.05", "AXHUB_DELIVERY_RETRY_BASE": "0.05"}
EVENT = {"title": "Formation sécurité", "start": "2024-03-15T10:00:00Z", "end": "2024-03-15T12:00:00Z",
         "timezone": "Europe/Paris", "type": "training", "attendees": [{"email": "a@example.com"}]}
FORBIDDEN = {"error": {"code": 403, "message": "You need to have writer access to this calendar.",
                       "errors": [{"domain": "calendar", "reason": "requiredAccessLevel",
                                   "message": "You need to have writer access to this calendar."}]}}
WAIT = 20_000  # ms: how long a page may take to show what the test waits for (a bound, not a measure)


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        unavailable("no Chromium: apt-get install -y chromium (or set AXHUB_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (python3 dev.py installs the test requirements)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def hub(make_hub, browser):
    # Playwright's sync API keeps an event loop running on this thread, and making a
    # PostgreSQL database runs one of its own: that is done on another thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(make_hub, ENV).result()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(WAIT)
    page = context.new_page()
    yield page
    context.close()


def test_a_manager_connects_google_configures_syncs_reads_the_history_and_signs_out(hub, page):
    page.goto(hub.url + "/")
    assert page.url.endswith("/console/sign-in")  # / leads to the console, which asks to sign in
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    shot(page, "01-sign-in")

    sign_in(page, hub, hub.token("manager", name="Marie Dubois"))
    page.wait_for_url("**/console/integrations")
    assert "No integration yet" in page.inner_text("main")
    shot(page, "02-integrations-empty")

    # The real OAuth flow: the hub's connect, the sandbox's consent, the callback, back here.
    page.click("#connect-google")
    page.wait_for_url(re.compile(r"/console/integrations/int-[^/?#]+\?run="))
    page.wait_for_selector("[data-run-status='completed']")  # the first sync, live
    integration = re.search(r"/console/integrations/(int-[^/?#]+)", page.url).group(1)
    shot(page, "03-integration-connected")

    api = hub.client("manager")
    before = api.get(f"/api/integrations/{integration}").json()["data"]["settings"]
    page.fill("#syncInterval", "often")
    page.click("#save-settings")
    error = page.inner_text("#syncInterval-error")
    # The same refusal as the API's, for the same field; nothing was saved.
    refused = api.put(f"/api/integrations/{integration}/settings", json={"syncInterval": "often"}).json()["error"]
    assert refused["field"] == "syncInterval" and refused["message"] in error and "VALIDATION_ERROR" in error
    assert page.get_attribute("#syncInterval", "aria-invalid") == "true"
    shot(page, "04-settings-field-error")
    page.fill("#syncInterval", "1")
    page.click("#save-settings")
    refused = api.put(f"/api/integrations/{integration}/settings", json={"syncInterval": 1}).json()["error"]
    assert refused["message"] in page.inner_text("#syncInterval-error")
    assert api.get(f"/api/integrations/{integration}").json()["data"]["settings"] == before

    page.fill("#syncInterval", "7200")
    page.uncheck("#autoSync")
    page.click("#save-settings")
    page.wait_for_selector("text=Settings saved.")
    saved = api.get(f"/api/integrations/{integration}").json()["data"]["settings"]
    assert saved["syncInterval"] == 7200 and saved["autoSync"] is False

    page.click("#test-connection")
    assert "healthy" in page.inner_text("#test-result")
    assert "Calls today" in page.inner_text("#api-limits")  # the apiLimits of POST /test, in words
    shot(page, "05-test-connection")

    page.select_option("#sync-scope", "future")
    page.click("#sync-now")
    page.wait_for_selector("[data-run-status='completed']")
    assert page.get_attribute("#progress-bar", "value") == "100"
    shot(page, "06-sync-completed")

    # A run the provider refuses one write of: partial, with that event's error in the history.
    assert api.post("/api/events", json={**EVENT, "start": "2030-06-01T09:00:00Z", "end": "2030-06-01T10:00:00Z"}).status_code == 201
    hub.sandbox("google").post("/_control/faults", json={"path": "/calendar/v3/calendars/primary/events", "method": "POST",
                                                         "status": 403, "count": 1, "body": FORBIDDEN})
    page.click("#sync-now")
    page.wait_for_selector("[data-run-status='partial']")
    rows = page.locator("table.history tbody tr")
    assert rows.count() == 3  # the first sync and these two
    assert "partial" in rows.nth(0).inner_text() and "initial" in rows.nth(2).inner_text()
    page.click("table.history tbody tr >> nth=0 >> summary")
    detail = rows.nth(0).locator("details").inner_text()
    assert "1 error" in detail and "PERMISSION_DENIED" in detail
    shot(page, "06b-history-event-error")
    page.select_option("#history select[name=status]", "error")
    page.click("#history button[type=submit]")
    assert "No run matches these filters" in page.inner_text("#history")
    shot(page, "07-history-filtered")

    page.goto(f"{hub.url}/console/integrations/{integration}?startDate=yesterday")
    assert "startDate" in page.inner_text("#history .error")  # the API's own error for the filter

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#disconnect-button")
    assert "Tokens revoked at the provider" in page.inner_text("#disconnected")
    assert api.get(f"/api/integrations/{integration}").json()["data"]["status"] == "disconnected"
    shot(page, "08-disconnected")

    page.set_viewport_size({"width": 375, "height": 800})  # a phone
    page.goto(hub.url + "/console/integrations")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "09-integrations-narrow")

    page.click("text=Sign out")
    page.wait_for_url("**/console/sign-in")
    page.goto(hub.url + "/console/integrations")
    assert page.url.endswith("/console/sign-in")


def test_an_admin_resends_a_delivery_and_reads_analytics_a_manager_is_refused(hub, browser, page):
    with Receiver() as receiver:
        sign_in(page, hub, hub.token("admin"))
        page.wait_for_url("**/console/integrations")
        page.click("#connect-webhooks")
        assert page.inner_text("pre.secret").startswith("whsec_")
        page.click("text=Open the integration")
        endpoints = {"webhooks": {"eventCreated": {"enabled": True, "url": receiver.url + "/hooks"}}}
        page.fill("#settings-json", httpx.Response(200, json=endpoints).text)
        page.click("#save-settings")
        page.wait_for_selector("text=Settings saved.")

        assert hub.client("admin").post("/api/events", json=EVENT).status_code == 201
        (first,) = receiver.wait_for(1)
        page.click("text=Deliveries: messages, resend, replay, signing secret")
        page.wait_for_function("() => { const b = document.querySelector('table.messages .badge');"
                               " if (b && b.textContent === 'delivered') return true; location.reload(); return false; }",
                               polling=500)
        shot(page, "10-deliveries")
        page.click("button.resend")
        assert "queued to be sent again" in page.inner_text("#resent")
        second = receiver.wait_for(2)[1]
        assert second.headers["webhook-id"] == first.headers["webhook-id"]  # the same message, sent again
        page.click("table.messages a")
        page.wait_for_selector("text=Attempts")
        shot(page, "11-message")

    page.goto(hub.url + "/console/analytics?period=month")
    assert page.locator("svg.chart").count() == 4
    shot(page, "12-analytics")
    page.goto(hub.url + "/console/operators")
    assert "google" in page.inner_text("#plugins") and "loaded" in page.inner_text("#plugins")
    shot(page, "13-operators")

    manager = browser.new_context()
    other = manager.new_page()
    sign_in(other, hub, hub.token("manager"))
    other.wait_for_url("**/console/integrations")
    assert "Analytics" not in other.inner_text("header")
    response = other.goto(hub.url + "/console/analytics")
    assert response.status == 403 and "admin role" in other.inner_text("main")
    shot(other, "14-analytics-refused-manager")
    manager.close()


def test_members_are_refused_and_sandbox_mode_offers_a_demo_sign_in(hub, page):
    sign_in(page, hub, hub.token("member"))
    assert "members cannot use the console" in page.inner_text("#sign-in-error")
    shot(page, "15-member-refused")
    page.click("#demo")
    page.wait_for_url("**/console/integrations")
    assert "Demo Admin" in page.inner_text("header")
    assert SCREENSHOTS.is_dir()
