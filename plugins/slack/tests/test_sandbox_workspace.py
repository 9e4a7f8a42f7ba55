"""The Slack sandbox's workspace speaks Slack: chat.postMessage, users.lookupByEmail,
conversations.list and incoming webhooks, with Slack's answers and per-channel limits."""

from __future__ import annotations

import json

import httpx
import pytest

from axhub.testing import connect


@pytest.fixture
def slack(hub):
    with hub.client("manager") as api:
        data = connect(api, "slack", scopes=["messages.send", "channels.read", "users.read", "webhook"])
    control = hub.sandbox("slack")
    token = control.get("/_control/tokens").json()["accessTokens"][-1]
    base = f"{hub.services.hub.sandbox_base}/slack"
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    yield client, control, data
    client.close()


def post(client, channel, text="Bonjour", **more):
    return client.post("/api/chat.postMessage", data={"channel": channel, "text": text, **more})


def test_post_message_answers_as_slack_does(slack):
    client, control, _ = slack
    answer = post(client, "#general", blocks=json.dumps([{"type": "section", "text": {"type": "mrkdwn", "text": "*Hi*"}}]))
    assert answer.status_code == 200 and answer.json()["ok"] is True and answer.json()["channel"] == "C0SBXGENRL1"
    assert answer.headers["x-accepted-oauth-scopes"] == "chat:write"
    for channel, error in (("#attendance-alerts", "not_in_channel"), ("#old-news", "is_archived"),
                           ("#nowhere", "channel_not_found"), ("G0SBXPRIV01", "not_in_channel")):
        refused = post(client, channel)
        assert (refused.status_code, refused.json()) == (200, {"ok": False, "error": error}), channel
    assert post(client, "C0SBXGENRL1", text="").json()["error"] == "no_text"
    posted = control.get("/_control/messages").json()["messages"]
    assert [(m["channelName"], m["text"], m["blocks"][0]["type"]) for m in posted] == [("general", "Bonjour", "section")]


def test_about_one_message_per_second_per_channel(slack):
    client, control, _ = slack
    control.post("/_control/channels", json={"id": "C0SBXBUSY01", "name": "busy", "botMember": True})
    answers = [post(client, "#busy") for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert answers[3].status_code == 429 and answers[3].json() == {"ok": False, "error": "ratelimited"}
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert post(client, "#general").status_code == 200  # another channel has its own allowance


def test_lookup_by_email_and_channel_list(slack):
    client, control, _ = slack
    control.post("/_control/members", json={"id": "U0ANNE00001", "email": "Anne@Example.com", "name": "Anne"})
    found = client.get("/api/users.lookupByEmail", params={"email": "anne@example.com"}).json()
    assert found["ok"] and found["user"]["id"] == "U0ANNE00001"
    assert client.get("/api/users.lookupByEmail", params={"email": "bob@example.com"}).json() == \
        {"ok": False, "error": "users_not_found"}
    page = client.get("/api/conversations.list", params={"limit": 2, "exclude_archived": "true"}).json()
    assert [c["name"] for c in page["channels"]] == ["general", "attendance-alerts"]
    rest = client.get("/api/conversations.list", params={"cursor": page["response_metadata"]["next_cursor"],
                                                          "exclude_archived": "true"}).json()
    assert [c["name"] for c in rest["channels"]] == ["reports"] and rest["response_metadata"]["next_cursor"] == ""


def test_incoming_webhook_posts_to_its_channel_as_plain_text(slack, hub):
    _, control, _ = slack
    [hook] = control.get("/_control/webhooks").json()["webhooks"]
    assert hook["url"].startswith("https://hooks.slack.com/services/T0SANDBOX01/") and hook["channel"] == "#general"
    local = hook["url"].replace("https://hooks.slack.com", f"{hub.services.hub.sandbox_base}/slack")
    answer = httpx.post(local, json={"text": "Rappel", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "R"}}]})
    assert (answer.status_code, answer.text) == (200, "ok")
    assert httpx.post(local, json={}).text == "no_text"
    bogus = httpx.post(f"{hub.services.hub.sandbox_base}/slack/services/T0SANDBOX01/B0NOPE/abc", json={"text": "x"})
    assert (bogus.status_code, bogus.text) == (404, "no_service")
    control.post("/_control/channels", json={"id": "C0SBXGENRL1", "name": "general", "archived": True})
    gone = httpx.post(local, json={"text": "x"})
    assert (gone.status_code, gone.text) == (410, "channel_is_archived")
    [message] = control.get("/_control/messages").json()["messages"]
    assert (message["channelName"], message["text"], message["via"]) == ("general", "Rappel", "incoming-webhook")
