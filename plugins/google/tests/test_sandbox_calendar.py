"""The Google sandbox's Calendar API v3: events.*, paging, sync tokens, batch, trouble,
seeding, the request log — and that everything it answers matches the discovery document."""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from discovery import method_for, spec_path, validate_error, validate_log, validate_request, validate_response
from litestar.testing import TestClient

from axhub_google.sandbox import create_app

EVENTS = "/calendar/v3/calendars/primary/events"
BATCH = "/batch/calendar/v3"
G = "https://www.googleapis.com/auth/"
SCOPES = f"openid email {G}calendar.readonly {G}calendar.events"
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def grant(client, scope: str = SCOPES) -> dict[str, str]:
    """Walk Google's OAuth flow on the sandbox: the headers of a live bearer token."""
    consent = client.get("/o/oauth2/v2/auth", follow_redirects=False, params={
        "client_id": "axhub-sandbox-google", "redirect_uri": "http://127.0.0.1/cb", "response_type": "code", "scope": scope})
    code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
    token = client.post("/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1/cb",
                                        "client_id": "axhub-sandbox-google", "client_secret": "sandbox-secret-google"})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture
def sandbox():
    with TestClient(create_app()) as client:
        yield client


@pytest.fixture
def auth(sandbox):
    return grant(sandbox)


@pytest.fixture
def spec():
    assert spec_path().exists(), f"no discovery document at {spec_path()}"


def event(summary="Meeting", start="2026-06-01T09:00:00+02:00", end="2026-06-01T10:00:00+02:00", **extra):
    return {"summary": summary, "start": {"dateTime": start}, "end": {"dateTime": end}, **extra}


def insert(sandbox, auth, body=None, **extra):
    response = sandbox.post(EVENTS, headers=auth, json=body or event(**extra))
    assert response.status_code == 200, response.text
    return response.json()


def reason(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["errors"][0]["reason"]


def page_all(sandbox, auth, **params):
    """Every page of a listing: (pages, items, nextSyncToken)."""
    pages, token = [], None
    while True:
        response = sandbox.get(EVENTS, headers=auth, params={**params, **({"pageToken": token} if token else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        token = body.get("nextPageToken")
        if not token:
            return pages, [i for p in pages for i in p["items"]], body.get("nextSyncToken")


def multipart(calls, boundary="batch_test_boundary", newline="\r\n", ids=True) -> bytes:
    """A batch body as Google's client libraries write it: (method, target, body) per call."""
    out = []
    for i, (method, target, body) in enumerate(calls):
        head = [f"--{boundary}", "Content-Type: application/http", "Content-Transfer-Encoding: binary"]
        if ids:
            head.append(f"Content-ID: <item{i}>")
        lines = [*head, "", f"{method} {target} HTTP/1.1"]
        if body is not None:
            lines += ["Content-Type: application/json", "", json.dumps(body)]
        else:
            lines += [""]
        out.append(newline.join(lines))
    return (newline.join(out) + f"{newline}--{boundary}--{newline}").encode()


def send_batch(sandbox, auth, calls, **kwargs):
    return sandbox.post(BATCH, headers={**auth, "Content-Type": "multipart/mixed; boundary=batch_test_boundary"},
                        content=multipart(calls, **kwargs))


def answers(response) -> list[tuple[str | None, int, dict | None]]:
    """Read a batch answer with the standard library's MIME parser: (Content-ID, status, body)."""
    assert response.status_code == 200, response.text
    content_type = response.headers["content-type"]
    assert re.fullmatch(r"multipart/mixed; boundary=batch_[A-Za-z0-9]+", content_type)
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + response.content)
    out = []
    for part in message.iter_parts():
        assert part.get_content_type() == "application/http"
        http = part.get_payload()
        head, _, body = http.replace("\r\n", "\n").partition("\n\n")
        status_line = head.split("\n")[0]
        assert status_line.startswith("HTTP/1.1 ")
        out.append((part["Content-ID"], int(status_line.split()[1]), json.loads(body) if body.strip() else None))
    return out


# -- events.* ------------------------------------------------------------------------------

def test_insert_get_patch_update_delete_with_googles_fields(sandbox, auth):
    created = insert(sandbox, auth, event(location="HQ", colorId="2", visibility="private", attendees=[{"email": "ann@example.com"}],
                                          extendedProperties={"private": {"axhubEventId": "evt-1"}}, unknownField="ignored"))
    assert created["kind"] == "calendar#event" and created["status"] == "confirmed" and created["eventType"] == "default"
    assert re.fullmatch(r"[a-v0-9]{26}", created["id"]) and created["iCalUID"] == f"{created['id']}@google.com"
    assert STAMP.fullmatch(created["created"]) and created["updated"] == created["created"]
    assert re.fullmatch(r'"\d+"', created["etag"]) and created["sequence"] == 0
    assert created["htmlLink"].startswith("https://www.google.com/calendar/event?eid=")
    assert created["creator"] == created["organizer"] == {"email": "marie.dubois@example.com", "self": True}
    assert created["attendees"] == [{"email": "ann@example.com", "responseStatus": "needsAction"}]
    assert created["reminders"] == {"useDefault": True} and "unknownField" not in created
    assert created["start"] == {"dateTime": "2026-06-01T09:00:00+02:00"}  # in the calendar's zone, Europe/Paris
    url = f"{EVENTS}/{created['id']}"
    got = sandbox.get(url, headers=auth)
    assert got.json() == created and got.headers["etag"] == created["etag"]
    assert sandbox.get(url, headers={**auth, "If-None-Match": created["etag"]}).status_code == 304

    patched = sandbox.patch(url, headers=auth, json={"summary": "Renamed", "attendees": [{"email": "bob@example.com"}],
                                                     "extendedProperties": {"private": {"other": "x"}}, "location": None}).json()
    assert patched["summary"] == "Renamed" and patched["etag"] != created["etag"] and patched["sequence"] == 1
    assert patched["updated"] >= created["updated"] and patched["created"] == created["created"]
    assert [a["email"] for a in patched["attendees"]] == ["bob@example.com"]  # arrays are replaced
    assert patched["extendedProperties"]["private"] == {"axhubEventId": "evt-1", "other": "x"}  # objects merge
    assert "location" not in patched and patched["colorId"] == "2"  # null clears, the rest stays

    updated = sandbox.put(url, headers=auth, json=event("Replaced", start="2026-06-01T10:00:00Z", end="2026-06-01T11:00:00Z"))
    body = updated.json()
    assert body["summary"] == "Replaced" and body["sequence"] == 2 and body["etag"] != patched["etag"]
    assert "colorId" not in body and "extendedProperties" not in body and "attendees" not in body  # update replaces
    assert body["start"] == {"dateTime": "2026-06-01T12:00:00+02:00"}

    assert sandbox.put(url, headers={**auth, "If-Match": created["etag"]}, json=event()).status_code == 412
    deleted = sandbox.delete(url, headers=auth)
    assert deleted.status_code == 204 and deleted.content == b""
    gone = sandbox.get(url, headers=auth)  # "The get method always returns them"
    assert gone.status_code == 200 and gone.json()["status"] == "cancelled" and gone.json()["summary"] == "Replaced"
    for method in ("PATCH", "PUT", "DELETE"):
        answer = sandbox.request(method, url, headers=auth, json=event() if method != "DELETE" else None)
        assert reason(answer) == (410, "deleted") and answer.json()["error"]["message"] == "Resource has been deleted"
    restored = sandbox.patch(url, headers=auth, json={"status": "confirmed"})  # the organizer may undelete
    assert restored.status_code == 200 and restored.json()["status"] == "confirmed"
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        assert reason(sandbox.request(method, f"{EVENTS}/nosuchevent0", headers=auth, json={})) == (404, "notFound")


def test_calendar_ids_and_credentials(sandbox, auth):
    insert(sandbox, auth)
    mine = sandbox.get("/calendar/v3/calendars/marie.dubois@example.com/events", headers=auth)
    assert mine.status_code == 200 and len(mine.json()["items"]) == 1
    assert reason(sandbox.get("/calendar/v3/calendars/someone@example.com/events", headers=auth)) == (404, "notFound")
    unauthenticated = sandbox.get(EVENTS)
    assert reason(unauthenticated) == (401, "authError")
    assert unauthenticated.json()["error"]["status"] == "UNAUTHENTICATED" and "www-authenticate" in unauthenticated.headers
    assert reason(sandbox.get(EVENTS, headers={"Authorization": "Bearer forged"})) == (401, "authError")
    reader = grant(sandbox, f"{G}calendar.readonly")
    assert sandbox.get(EVENTS, headers=reader).status_code == 200
    assert reason(sandbox.post(EVENTS, headers=reader, json=event())) == (403, "insufficientPermissions")
    calendar = sandbox.get("/calendar/v3/calendars/primary", headers=reader).json()
    assert calendar["id"] == "marie.dubois@example.com" and calendar["timeZone"] == "Europe/Paris"
    sandbox.post("/_control/expire-access-tokens")
    assert reason(sandbox.get(EVENTS, headers=auth)) == (401, "authError")


@pytest.mark.parametrize("body,status,why,message", [
    ({"id": "abc"}, 400, "invalid", "Invalid resource id value."),
    ({"id": "ABCDEF12"}, 400, "invalid", "Invalid resource id value."),
    ({"id": "axhub123"}, 400, "invalid", "Invalid resource id value."),  # x is not base32hex
    ({"start": None}, 400, "required", "Missing start time."),
    ({"end": None}, 400, "required", "Missing end time."),
    ({"start": {"dateTime": "2026-06-01T09:00:00"}}, 400, "required", "Missing time zone definition for start time."),
    ({"start": {"dateTime": "2026-06-01T09:00:00", "timeZone": "Mars/Olympus"}}, 400, "invalid",
     "Invalid time zone definition for start time."),
    ({"end": {"dateTime": "2026-06-01T08:00:00+02:00"}}, 400, "timeRangeEmpty", "The specified time range is empty."),
    ({"end": {"date": "2026-06-02"}}, 400, "invalid", "Start and end times must either both be date or both be dateTime."),
    ({"attendees": [{"email": "not an email"}]}, 400, "invalid", "Invalid attendee email."),
    ({"reminders": {"useDefault": True, "overrides": [{"method": "popup", "minutes": 5}]}}, 400,
     "cannotUseDefaultRemindersAndSpecifyOverride", "Cannot specify both default reminders and overrides at the same time."),
])
def test_insert_is_checked_as_google_checks_it(sandbox, auth, body, status, why, message):
    answer = sandbox.post(EVENTS, headers=auth, json={**event(), **body})
    assert reason(answer) == (status, why) and answer.json()["error"]["message"] == message


def test_client_ids_duplicates_and_odd_bodies(sandbox, auth):
    first = insert(sandbox, auth, event(id="a0b1c2d3e4"))
    assert first["id"] == "a0b1c2d3e4"
    duplicate = sandbox.post(EVENTS, headers=auth, json=event(id="a0b1c2d3e4"))
    assert reason(duplicate) == (409, "duplicate") and duplicate.json()["error"]["message"] == "The requested identifier already exists."
    sandbox.delete(f"{EVENTS}/a0b1c2d3e4", headers=auth)
    assert reason(sandbox.post(EVENTS, headers=auth, json=event(id="a0b1c2d3e4"))) == (409, "duplicate")  # ids never come back
    assert reason(sandbox.post(EVENTS, headers=auth, content=b"{not json")) == (400, "parseError")
    all_day = insert(sandbox, auth, {"summary": "Holiday", "start": {"date": "2026-07-14"}, "end": {"date": "2026-07-15"}})
    assert all_day["start"] == {"date": "2026-07-14"}
    zoned = insert(sandbox, auth, event(start="2026-01-10T09:00:00", end="2026-01-10T10:00:00") |
                   {"start": {"dateTime": "2026-01-10T09:00:00", "timeZone": "America/New_York"},
                    "end": {"dateTime": "2026-01-10T10:00:00", "timeZone": "America/New_York"}})
    assert zoned["start"] == {"dateTime": "2026-01-10T09:00:00-05:00", "timeZone": "America/New_York"}


# -- listing -------------------------------------------------------------------------------

def test_short_and_empty_pages_and_the_sync_token_on_the_last_page_only(sandbox, auth):
    sandbox.post("/_control/calendar/seed", json={"count": 1000, "start": "2026-09-01T08:00:00Z", "prefix": "Seed"})
    pages, items, sync_token = page_all(sandbox, auth, maxResults=100)
    sizes = [len(p["items"]) for p in pages]
    assert sizes[:7] == [100, 0, 66, 66, 0, 66, 66]  # full, then empty, short, short, empty, …
    assert all(size < 100 for size in sizes[1:]) and 0 in sizes
    assert all("nextPageToken" in p and "nextSyncToken" not in p for p in pages[:-1])
    assert "nextPageToken" not in pages[-1] and sync_token
    assert len(items) == 1000 and len({i["id"] for i in items}) == 1000
    assert {p["kind"] for p in pages} == {"calendar#events"} and pages[0]["accessRole"] == "owner"
    assert pages[0]["timeZone"] == "Europe/Paris" and pages[0]["defaultReminders"] == []
    # With short pages off, a page is full and never bigger than 2500.
    sandbox.post("/_control/calendar/config", json={"shortPages": False})
    sandbox.post("/_control/calendar/seed", json={"count": 2000, "prefix": "More"})
    assert len(sandbox.get(EVENTS, headers=auth).json()["items"]) == 250
    capped = sandbox.get(EVENTS, headers=auth, params={"maxResults": 5000}).json()
    assert len(capped["items"]) == 2500 and "nextPageToken" in capped
    assert reason(sandbox.get(EVENTS, headers=auth, params={"maxResults": 0})) == (400, "invalidParameter")
    assert reason(sandbox.get(EVENTS, headers=auth, params={"pageToken": "bogus"})) == (400, "invalid")


def test_paging_keeps_its_snapshot_and_changes_come_with_the_next_sync(sandbox, auth):
    ids = sandbox.post("/_control/calendar/seed", json={"count": 30, "idPrefix": "seed"}).json()["ids"]
    first = sandbox.get(EVENTS, headers=auth, params={"maxResults": 10}).json()
    # The calendar changes while the client pages.
    sandbox.delete(f"{EVENTS}/{ids[29]}", headers=auth)
    sandbox.patch(f"{EVENTS}/{ids[25]}", headers=auth, json={"summary": "Edited meanwhile"})
    added = insert(sandbox, auth, summary="Added meanwhile")
    token, items = first.get("nextPageToken"), list(first["items"])
    while token:
        body = sandbox.get(EVENTS, headers=auth, params={"maxResults": 10, "pageToken": token}).json()
        items += body["items"]
        token, sync_token = body.get("nextPageToken"), body.get("nextSyncToken")
    assert [i["id"] for i in items] == ids  # no duplicate, no omission, as of the first page
    assert all(i["status"] == "confirmed" for i in items) and "Edited meanwhile" not in {i["summary"] for i in items}
    changes = sandbox.get(EVENTS, headers=auth, params={"syncToken": sync_token}).json()
    by_id = {i["id"]: i for i in changes["items"]}
    assert set(by_id) == {ids[29], ids[25], added["id"]}
    # Deletions come in incremental mode whatever showDeleted says; without it, only the id is promised.
    assert by_id[ids[29]] == {"kind": "calendar#event", "etag": by_id[ids[29]]["etag"], "id": ids[29], "status": "cancelled"}
    assert by_id[ids[25]]["summary"] == "Edited meanwhile"
    detailed = sandbox.get(EVENTS, headers=auth, params={"syncToken": sync_token, "showDeleted": "true"}).json()
    assert {i["id"]: i for i in detailed["items"]}[ids[29]]["summary"] == "Seeded event 30"
    # Nothing new since: an empty page with a fresh token.
    quiet = sandbox.get(EVENTS, headers=auth, params={"syncToken": changes["nextSyncToken"]}).json()
    assert quiet["items"] == [] and quiet["nextSyncToken"]


def test_sync_tokens_expire_and_refuse_filters(sandbox, auth):
    insert(sandbox, auth)
    _, _, token = page_all(sandbox, auth)
    for param in ({"timeMin": "2026-01-01T00:00:00Z"}, {"timeMax": "2026-01-01T00:00:00Z"}, {"q": "x"},
                  {"updatedMin": "2026-01-01T00:00:00Z"}, {"privateExtendedProperty": "a=b"}, {"orderBy": "updated"},
                  {"iCalUID": "x"}, {"sharedExtendedProperty": "a=b"}):
        assert reason(sandbox.get(EVENTS, headers=auth, params={"syncToken": token, **param})) == (400, "invalid")
    assert sandbox.get(EVENTS, headers=auth, params={"syncToken": token, "showDeleted": "true", "singleEvents": "true"}).status_code == 200
    assert sandbox.post("/_control/expire-sync-tokens").status_code == 200
    expired = sandbox.get(EVENTS, headers=auth, params={"syncToken": token})
    assert reason(expired) == (410, "fullSyncRequired")
    assert expired.json()["error"]["message"] == "Sync token is no longer valid, a full sync is required."
    assert reason(sandbox.get(EVENTS, headers=auth, params={"syncToken": "1" + token})) == (410, "fullSyncRequired")
    _, _, fresh = page_all(sandbox, auth)  # a full sync hands out a token that works again
    assert sandbox.get(EVENTS, headers=auth, params={"syncToken": fresh}).status_code == 200
    sandbox.delete("/_control/calendar")
    assert reason(sandbox.get(EVENTS, headers=auth, params={"syncToken": fresh})) == (410, "fullSyncRequired")


def test_list_filters(sandbox, auth):
    early = insert(sandbox, auth, event("Early", "2026-06-01T08:00:00Z", "2026-06-01T09:00:00Z",
                                        extendedProperties={"private": {"app": "axhub", "kind": "a"}}))
    late = insert(sandbox, auth, event("Late review", "2026-06-01T12:00:00Z", "2026-06-01T13:00:00Z", description="quarterly",
                                       extendedProperties={"private": {"app": "axhub", "kind": "b"}}))
    gone = insert(sandbox, auth, event("Gone", "2026-06-01T10:00:00Z", "2026-06-01T11:00:00Z"))
    sandbox.delete(f"{EVENTS}/{gone['id']}", headers=auth)

    def ids(**params):
        response = sandbox.get(EVENTS, headers=auth, params=params)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert ids() == [early["id"], late["id"]]
    assert ids(showDeleted="true") == [early["id"], late["id"], gone["id"]]
    # Overlap: end after timeMin (exclusive), start before timeMax (exclusive).
    assert ids(timeMin="2026-06-01T09:00:00Z") == [late["id"]]
    assert ids(timeMin="2026-06-01T08:30:00+00:00", timeMax="2026-06-01T12:00:00Z") == [early["id"]]
    assert ids(privateExtendedProperty="app=axhub") == [early["id"], late["id"]]
    assert ids(privateExtendedProperty=["app=axhub", "kind=b"]) == [late["id"]]
    assert ids(q="QUARTERLY review") == [late["id"]]
    assert ids(orderBy="startTime", singleEvents="true", timeMin="2026-01-01T00:00:00Z") == [early["id"], late["id"]]
    assert ids(updatedMin="2000-01-01T00:00:00Z") == [early["id"], late["id"], gone["id"]]  # deletions included
    assert reason(sandbox.get(EVENTS, headers=auth, params={"orderBy": "startTime"})) == (400, "badRequest")
    assert reason(sandbox.get(EVENTS, headers=auth, params={"timeMin": "2026-06-01T09:00:00"})) == (400, "badRequest")
    assert reason(sandbox.get(EVENTS, headers=auth, params={"timeMin": "2026-06-02T00:00:00Z", "timeMax": "2026-06-01T00:00:00Z"})) == \
        (400, "timeRangeEmpty")


# -- batch ---------------------------------------------------------------------------------

@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_batch_runs_each_call_and_answers_in_order(sandbox, auth, newline):
    existing = insert(sandbox, auth, event(id="keep00001"))
    calls = [
        ("POST", EVENTS, event("One", id="batch00001")),
        ("POST", f"https://www.googleapis.com{EVENTS}", event("Two")),
        ("PATCH", f"{EVENTS}/keep00001", {"summary": "Patched"}),
        ("GET", f"{EVENTS}/keep00001?maxAttendees=5", None),
        ("DELETE", f"{EVENTS}/keep00001", None),
        ("POST", EVENTS, event("Dup", id="batch00001")),
        ("GET", f"{EVENTS}?maxResults=1", None),
        ("GET", f"/sandbox/google{EVENTS}/nosuchevent1", None),
    ]
    replies = answers(send_batch(sandbox, auth, calls, newline=newline))
    assert [r[0] for r in replies] == [f"<response-item{i}>" for i in range(len(calls))]
    assert [r[1] for r in replies] == [200, 200, 200, 200, 204, 409, 200, 404]
    assert replies[0][2]["id"] == "batch00001" and replies[1][2]["summary"] == "Two"
    assert replies[2][2]["summary"] == replies[3][2]["summary"] == "Patched" and replies[2][2]["etag"] != existing["etag"]
    assert replies[4][2] is None and replies[5][2]["error"]["errors"][0]["reason"] == "duplicate"
    assert replies[6][2]["kind"] == "calendar#events"
    stats = sandbox.get("/_control/stats").json()["counters"]
    assert stats["batch"] == 1 and stats["batch.items"] == 8 and stats["events.insert"] == 4 and stats["events.delete"] == 1
    # "http.*" counts HTTP requests: the batch is one, beside the direct insert and the OAuth round.
    assert {k: v for k, v in stats.items() if k.startswith("http.")} == {
        "http.authorize": 1, "http.token": 1, "http.events.insert": 1, "http.batch": 1}


def test_batch_limits_and_credentials(sandbox, auth):
    refused = send_batch(sandbox, auth, [("POST", EVENTS, event(f"E{i}")) for i in range(51)])
    assert reason(refused) == (400, "badRequest")
    assert sandbox.get("/_control/calendar/events").json()["items"] == []  # nothing of it ran
    fifty = answers(send_batch(sandbox, auth, [("POST", EVENTS, event(f"E{i}")) for i in range(50)]))
    assert [r[1] for r in fifty] == [200] * 50
    # No Content-ID: none in the answer. The outer Authorization covers every part; none means 401 each.
    anonymous = answers(send_batch(sandbox, {}, [("GET", EVENTS, None)] * 2, ids=False))
    assert [(r[0], r[1]) for r in anonymous] == [(None, 401), (None, 401)]
    assert reason(sandbox.post(BATCH, headers={**auth, "Content-Type": "application/json"}, content=b"{}")) == (400, "badRequest")
    assert reason(sandbox.post(BATCH, headers={**auth, "Content-Type": "multipart/mixed; boundary=x"}, content=b"--x--")) == \
        (400, "badRequest")


def test_faults_meet_batched_calls_one_by_one(sandbox, auth):
    sandbox.post("/_control/faults", json={"path": EVENTS, "method": "POST", "status": 503, "count": 2})
    replies = answers(send_batch(sandbox, auth, [("POST", EVENTS, event(f"E{i}")) for i in range(3)]))
    assert [r[1] for r in replies] == [503, 503, 200]
    sandbox.post("/_control/faults", json={"path": "/calendar/v3", "status": 500, "count": 1})
    assert sandbox.get(EVENTS, headers=auth).status_code == 500
    assert sandbox.get(EVENTS, headers=auth).status_code == 200
    sandbox.post("/_control/faults", json={"path": "/batch", "status": 502, "count": 1})  # the whole envelope
    assert send_batch(sandbox, auth, [("GET", EVENTS, None)]).status_code == 502


# -- trouble -------------------------------------------------------------------------------

def test_chaos_is_googles_throttling_and_outages_and_is_reproducible(sandbox, auth):
    def statuses(n=40):
        return [sandbox.get(EVENTS, headers=auth).status_code for _ in range(n)]

    config = {"rate": 0.5, "statuses": [429, 500, 503, 403], "seed": 3}
    assert sandbox.post("/_control/chaos", json=config).json()["rate"] == 0.5
    first = statuses()
    sandbox.post("/_control/chaos", json=config)
    assert statuses() == first and set(first) == {200, 429, 500, 503, 403}
    sandbox.post("/_control/chaos", json={"rate": 1, "statuses": [429], "seed": 1})
    throttled = sandbox.get(EVENTS, headers=auth)
    assert reason(throttled) == (429, "rateLimitExceeded") and throttled.headers["retry-after"] == "1"
    assert throttled.json()["error"]["errors"][0]["domain"] == "usageLimits"
    sandbox.post("/_control/chaos", json={"rate": 1, "statuses": [403]})
    forbidden = sandbox.get(EVENTS, headers=auth).json()["error"]
    assert forbidden["errors"][0] == {"message": "Rate Limit Exceeded", "domain": "usageLimits", "reason": "rateLimitExceeded"}
    replies = answers(send_batch(sandbox, auth, [("GET", EVENTS, None)] * 3))  # batched calls too
    assert [r[1] for r in replies] == [403, 403, 403]
    sandbox.delete("/_control/chaos")
    assert statuses(5) == [200] * 5
    assert sandbox.post("/_control/chaos", json={"rate": 2}).status_code == 400


def test_chaos_timeouts_are_late_or_lost(sandbox, auth):
    sandbox.post("/_control/chaos", json={"rate": 0, "timeoutRate": 1, "timeoutSeconds": 0.05, "seed": 5})
    started = time.monotonic()
    results = [sandbox.post(EVENTS, headers=auth, json=event(f"T{i}")).status_code for i in range(12)]
    assert time.monotonic() - started >= 12 * 0.05
    assert set(results) == {200, 503}  # late ones went through, lost ones did not
    sandbox.delete("/_control/chaos")
    stored = sandbox.get("/_control/calendar/events").json()["items"]
    assert len(stored) == results.count(200)
    counters = sandbox.get("/_control/stats").json()["counters"]
    assert counters["chaos.late"] == results.count(200) and counters["chaos.lost"] == results.count(503)


def test_rate_limit(sandbox, auth):
    sandbox.post("/_control/rate-limit", json={"perSecond": 3})
    codes = [sandbox.get(EVENTS, headers=auth).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 403, 403]
    assert reason(sandbox.get(EVENTS, headers=auth)) == (403, "rateLimitExceeded")
    assert sandbox.get("/_control/stats").json()["counters"]["rateLimited"] == 3
    sandbox.delete("/_control/rate-limit")
    assert sandbox.get(EVENTS, headers=auth).status_code == 200


# -- seeding, inspection, reset ------------------------------------------------------------

def test_seed_inspect_empty_and_reset(sandbox, auth):
    seeded = sandbox.post("/_control/calendar/seed", json={"count": 5, "start": "2026-09-01T08:00:00Z", "prefix": "Remote",
                                                           "extendedProperties": {"private": {"origin": "seed"}}}).json()
    assert seeded["created"] == 5 and len(seeded["ids"]) == 5
    items = sandbox.get("/_control/calendar/events").json()["items"]
    assert [i["summary"] for i in items] == [f"Remote {n}" for n in range(1, 6)]
    assert items[1]["start"] == {"dateTime": "2026-09-01T09:00:00Z", "timeZone": "UTC"}
    assert items[0]["extendedProperties"] == {"private": {"origin": "seed"}}
    sandbox.delete(f"{EVENTS}/{items[0]['id']}", headers=auth)
    assert [i["status"] for i in sandbox.get("/_control/calendar/events").json()["items"]][0] == "cancelled"
    assert sandbox.post("/_control/calendar/seed", json={"count": 0}).status_code == 400
    assert sandbox.delete("/_control/calendar").status_code == 200
    assert sandbox.get("/_control/calendar/events").json()["items"] == []
    insert(sandbox, auth)
    sandbox.post("/_control/chaos", json={"rate": 1})
    stats = sandbox.get("/_control/stats").json()
    assert stats["counters"]["events.insert"] == 1 and stats["counters"]["events.delete"] == 1
    assert stats["calendar"]["events"] == 1 and stats["counters"]["authorize"] == 1
    sandbox.post("/_control/reset")
    assert sandbox.get("/_control/calendar/events").json()["items"] == []
    assert sandbox.get("/_control/calendar/log").json()["entries"] == []
    assert sandbox.get("/_control/chaos").json()["rate"] == 0
    assert sandbox.get("/_control/stats").json()["counters"] == {}


def test_the_log_records_requests_and_responses(sandbox, auth):
    created = insert(sandbox, auth, event(id="logged001"))
    sandbox.get(EVENTS, headers=auth, params={"privateExtendedProperty": ["a=1", "b=2"], "maxResults": 5})
    send_batch(sandbox, auth, [("DELETE", f"{EVENTS}/logged001", None)])
    log = sandbox.get("/_control/calendar/log").json()["entries"]
    assert [(e["methodId"], e["status"], e["batch"]) for e in log] == [
        ("calendar.events.insert", 200, False), ("calendar.events.list", 200, False), ("calendar.events.delete", 204, True)]
    assert log[0]["body"]["id"] == "logged001" and log[0]["response"] == created
    assert log[1]["query"] == {"privateExtendedProperty": ["a=1", "b=2"], "maxResults": "5"}
    assert log[2]["path"] == f"{EVENTS}/logged001" and log[2]["contentId"] == "item0"
    assert [e["n"] for e in sandbox.get("/_control/calendar/log", params={"after": 2}).json()["entries"]] == [3]


# -- the discovery document ----------------------------------------------------------------

def test_everything_the_sandbox_answers_matches_the_discovery_document(sandbox, auth, spec):
    seed = sandbox.post("/_control/calendar/seed", json={"count": 40, "idPrefix": "disc"}).json()["ids"]
    full = insert(sandbox, auth, event(
        location="HQ", description="d", colorId="3", visibility="private", transparency="transparent", status="tentative",
        attendees=[{"email": "ann@example.com", "displayName": "Ann", "optional": True}, {"email": "marie.dubois@example.com"}],
        extendedProperties={"private": {"k": "v"}, "shared": {"s": "t"}}, source={"title": "X", "url": "https://x.example"},
        reminders={"useDefault": False, "overrides": [{"method": "popup", "minutes": 10}]}, guestsCanModify=True))
    sandbox.get(f"{EVENTS}/{full['id']}", headers=auth)
    sandbox.patch(f"{EVENTS}/{full['id']}", headers=auth, params={"sendUpdates": "none"}, json={"summary": "P"})
    sandbox.put(f"{EVENTS}/{full['id']}", headers=auth, json=event("U", id=full["id"]))
    sandbox.delete(f"{EVENTS}/{seed[0]}", headers=auth, params={"sendUpdates": "all"})
    _, _, token = page_all(sandbox, auth, maxResults=7, showDeleted="true", singleEvents="true")
    sandbox.patch(f"{EVENTS}/{seed[1]}", headers=auth, json={"summary": "changed"})
    sandbox.delete(f"{EVENTS}/{seed[2]}", headers=auth)
    page_all(sandbox, auth, syncToken=token)
    page_all(sandbox, auth, timeMin="2026-01-01T00:00:00Z", orderBy="updated", q="event", privateExtendedProperty="k=v")
    send_batch(sandbox, auth, [("POST", EVENTS, event("B")), ("GET", f"{EVENTS}/{seed[3]}", None), ("DELETE", f"{EVENTS}/{seed[4]}", None)])
    # Refusals too: their bodies must be Google's error shape.
    sandbox.post(EVENTS, headers=auth, json={"summary": "no times"})
    sandbox.get(f"{EVENTS}/{seed[0]}x", headers=auth)
    sandbox.get(EVENTS, headers=auth, params={"syncToken": "junk"})
    sandbox.post("/_control/chaos", json={"rate": 1, "statuses": [429, 403, 500, 503], "seed": 2})
    for _ in range(8):
        sandbox.get(EVENTS, headers=auth)
    sandbox.delete("/_control/chaos")
    log = sandbox.get("/_control/calendar/log").json()["entries"]
    assert len(log) > 30 and {e["status"] for e in log} >= {200, 204, 400, 403, 404, 410, 429, 500, 503}
    # The one request Google would refuse is the one sent to be refused; every answer is Google's.
    [refused] = [e["n"] for e in log if e["body"] == {"summary": "no times"}]
    assert validate_log(log) == [f"#{refused} POST {EVENTS}: body.{f}: required by calendar.events.insert" for f in ("end", "start")]


def test_the_validator_catches_what_google_would_not_take(spec):
    assert method_for("GET", EVENTS) == "calendar.events.list"
    assert method_for("POST", "https://www.googleapis.com/calendar/v3/calendars/primary/events/quickAdd") == "calendar.events.quickAdd"
    assert method_for("PATCH", f"http://127.0.0.1:9/sandbox/google{EVENTS}/abc?x=1") == "calendar.events.patch"
    assert method_for("GET", "/calendar/v3/nothing/here") is None
    good = {"summary": "x", "start": {"dateTime": "2026-06-01T09:00:00+02:00", "timeZone": "Europe/Paris"},
            "end": {"date": "2026-06-02"}, "attendees": [{"email": "a@b.c", "optional": True}],
            "extendedProperties": {"private": {"k": "v"}}, "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 10}]}}
    assert validate_request("POST", EVENTS, {"sendUpdates": "none", "conferenceDataVersion": 1}, good) == []
    assert validate_request("GET", EVENTS, {"maxResults": 2500, "showDeleted": True, "privateExtendedProperty": ["a=1", "b=2"],
                                            "timeMin": "2026-01-01T00:00:00Z", "fields": "items(id)"}, None) == []
    assert validate_request("GET", f"{EVENTS}?maxResults=10&singleEvents=true") == []
    problems = validate_request("GET", EVENTS, {"maxResults": 0, "showDeleted": "yes", "orderBy": "start", "timeMin": "2026-01-01",
                                                "pageSize": 3, "q": ["a", "b"]})
    assert problems == ["query maxResults: 0 is below the minimum 1", "query showDeleted: 'yes' is not a boolean",
                        "query orderBy: 'start' is not one of ['startTime', 'updated']",
                        "query timeMin: '2026-01-01' is not an RFC 3339 date-time with a time zone offset",
                        "query pageSize: not a parameter of calendar.events.list", "query q: given 2 times but not repeatable"]
    assert validate_request("POST", EVENTS, {"conferenceDataVersion": 2}, good) == ["query conferenceDataVersion: 2 is above the maximum 1"]
    bad = {"title": "x", "start": {"dateTime": "2026-06-01T09:00:00"}, "attendees": {"email": "a@b.c"},
           "reminders": {"overrides": [{"method": "popup", "minutes": "10"}]}, "extendedProperties": {"private": {"k": 1}}}
    assert validate_request("POST", EVENTS, None, bad) == [
        "body.title: not a property of Event",
        "body.start.dateTime: '2026-06-01T09:00:00' is not an RFC 3339 date-time with a time zone offset",
        "body.attendees: dict where an array is expected",
        "body.reminders.overrides[0].minutes: '10' is not an integer",
        "body.extendedProperties.private.k: 1 is not a string",
        "body.end: required by calendar.events.insert"]
    assert validate_request("DELETE", f"{EVENTS}/abc", None, {"x": 1}) == ["body: calendar.events.delete takes no request body"]
    assert validate_request("PUT", f"{EVENTS}/abc") == ["body: calendar.events.update needs a Event body"]
    assert validate_response("events.delete", None) == [] and validate_response("calendar.events.get", {"id": "x", "colour": 1}) == \
        ["Event.colour: not a property of Event"]
    assert validate_response("calendar.events.list", {"items": [{"id": "a", "sequence": 1.5}], "nextSyncToken": "t"}) == \
        ["Events.items[0].sequence: 1.5 is not an integer"]
    assert validate_error({"error": {"code": 404, "message": "Not Found", "errors": [{"domain": "global", "reason": "notFound",
                                                                                       "message": "Not Found"}]}}) == []
    assert validate_error({"error": "invalid_grant"}) != []


# -- through the hub, and at benchmark size ------------------------------------------------

def test_mounted_in_the_hub(hub):
    with hub.sandbox("google") as sb:
        headers = grant(sb)
        sb.post("/_control/calendar/seed", json={"count": 3})
        first = sb.get(EVENTS, headers=headers, params={"maxResults": 2}).json()
        second = sb.get(EVENTS, headers=headers, params={"maxResults": 2, "pageToken": first["nextPageToken"]}).json()
        assert (len(first["items"]), len(second["items"])) == (2, 0) and "nextSyncToken" not in second  # an empty page
        replies = answers(sb.post(BATCH, headers={**headers, "Content-Type": "multipart/mixed; boundary=batch_test_boundary"},
                                  content=multipart([("POST", f"/sandbox/google{EVENTS}", event())])))
        assert replies[0][1] == 200
    hub.reset()
    with hub.sandbox("google") as sb:
        assert sb.get("/_control/calendar/events").json()["items"] == []


def test_ten_thousand_events_page_and_batch_quickly(sandbox, auth):
    started = time.monotonic()
    sandbox.post("/_control/calendar/seed", json={"count": 10_000, "prefix": "Bulk"})
    _, items, token = page_all(sandbox, auth, maxResults=2500, showDeleted="true")
    assert len({i["id"] for i in items}) == 10_000 and token
    for start in range(0, 2000, 50):
        replies = answers(send_batch(sandbox, auth, [("POST", EVENTS, event(f"N{start + i}")) for i in range(50)]))
        assert {r[1] for r in replies} == {200}
    assert len(page_all(sandbox, auth, syncToken=token)[1]) == 2000
    assert time.monotonic() - started < 30


def test_batch_as_the_python_client_library_writes_it(sandbox, auth):
    """googleapiclient builds batches with the stdlib's MIME generator: LF line ends, a
    quoted boundary, ``Content-ID: <uuid+n>``, no part headers written for the envelope."""
    from email.generator import Generator
    from email.mime.multipart import MIMEMultipart
    from email.mime.nonmultipart import MIMENonMultipart
    from io import StringIO

    message = MIMEMultipart("mixed")
    message._write_headers = lambda self: None  # what the client library does
    for n, body in enumerate([event("Lib one"), event("Lib two")], start=1):
        part = MIMENonMultipart("application", "http")
        part["Content-Transfer-Encoding"] = "binary"
        part["Content-ID"] = f"<3b0a-uuid+{n}>"
        payload = json.dumps(body)
        part.set_payload(f"POST {EVENTS}?alt=json HTTP/1.1\nContent-Type: application/json\nMIME-Version: 1.0\n"
                         f"accept: application/json\ncontent-length: {len(payload)}\nhost: www.googleapis.com\n\n{payload}")
        message.attach(part)
    out = StringIO()
    Generator(out, mangle_from_=False).flatten(message, unixfrom=False)
    response = sandbox.post(BATCH, content=out.getvalue().encode(),
                            headers={**auth, "Content-Type": f'multipart/mixed; boundary="{message.get_boundary()}"'})
    replies = answers(response)
    assert [(r[0], r[1], r[2]["summary"]) for r in replies] == [
        ("<response-3b0a-uuid+1>", 200, "Lib one"), ("<response-3b0a-uuid+2>", 200, "Lib two")]


def test_the_copy_is_the_published_document():
    """The vendored discovery document is the shared provider spec, byte for byte, when
    the shared specs sit beside the repository (as in CI)."""
    from discovery import DEFAULT, SHARED

    if SHARED.exists():
        assert DEFAULT.read_bytes() == SHARED.read_bytes()
    else:
        assert DEFAULT.exists()
