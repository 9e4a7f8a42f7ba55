"""The Slack sandbox's workspace speaks Slack: chat.postMessage, users.lookupByEmail,
conversations.list, conversations.info and incoming webhooks, with Slack's answers and
per-channel limits."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from axhub.testing import connect, follow_consent

# The piece of Slack's published OpenAPI description these tests need travels with them
# (the whole is 1 MB); test_the_excerpt_is_the_published_description keeps it equal to
# the original where a clone has it beside the project.
EXCERPT = Path(__file__).resolve().parent / "data" / "slack-web-openapi-excerpt.json"
OPENAPI = Path(__file__).resolve().parents[3].parent / "shared" / "provider-specs" / "slack-web-openapi-v2.json"


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


def bot_token(hub, scopes):
    """A bot token with exactly ``scopes`` (Slack's own names), straight from the sandbox's OAuth."""
    base = f"{hub.services.hub.sandbox_base}/slack"
    back = follow_consent(f"{base}/oauth/v2/authorize?client_id=axhub-sandbox-slack&scope={','.join(scopes)}"
                          "&redirect_uri=https://app.example/cb&state=s1")
    token = httpx.post(f"{base}/api/oauth.v2.access", data={"code": back["code"], "redirect_uri": "https://app.example/cb"},
                       auth=("axhub-sandbox-slack", "sandbox-secret-slack")).json()
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=30)


def required_conversation_fields(document: Path = EXCERPT) -> set[str]:
    return set(json.loads(document.read_text())["definitions"]["objs_conversation"]["items"][0]["required"])


@pytest.mark.skipif(not OPENAPI.exists(), reason="the published description is not beside this clone")
def test_the_excerpt_is_the_published_description():
    assert required_conversation_fields(OPENAPI) == required_conversation_fields()


def test_conversations_info_answers_as_slack_does_for_a_bot(slack):
    client, control, _ = slack
    info = client.get("/api/conversations.info", params={"channel": "C0SBXGENRL1"})
    assert info.status_code == 200 and info.headers["x-accepted-oauth-scopes"] == "channels:read,groups:read,im:read,mpim:read"
    channel = info.json()["channel"]
    assert (channel["name"], channel["is_member"], channel["is_private"]) == ("general", True, False)
    assert required_conversation_fields() <= set(channel)
    assert client.get("/api/conversations.info", params={"channel": "C0SBXALERT1"}).json()["channel"]["is_member"] is False
    # Unknown, a name (ids only here), and a private channel the bot was not invited to: all unknown to it.
    for ref in ("C0NOPE00001", "#general", "G0SBXPRIV01", ""):
        refused = client.get("/api/conversations.info", params={"channel": ref})
        assert (refused.status_code, refused.json()) == (200, {"ok": False, "error": "channel_not_found"}), ref
    control.post("/_control/channels", json={"id": "G0SBXPRIV01", "name": "managers", "private": True, "botMember": True})
    private = client.post("/api/conversations.info", data={"channel": "G0SBXPRIV01"}).json()
    assert private["ok"] and private["channel"]["is_private"] and private["channel"]["is_member"]


def test_conversations_methods_check_the_read_scopes(hub, slack):
    _, control, _ = slack
    control.post("/_control/channels", json={"id": "G0SBXPRIV01", "name": "managers", "private": True, "botMember": True})
    with bot_token(hub, ["chat:write"]) as none:
        assert none.get("/api/conversations.info", params={"channel": "C0SBXGENRL1"}).json() == {
            "ok": False, "error": "missing_scope", "needed": "channels:read,groups:read,im:read,mpim:read",
            "provided": "chat:write"}
        assert none.get("/api/conversations.list").json()["needed"] == "channels:read"
    with bot_token(hub, ["chat:write", "channels:read"]) as public:
        assert public.get("/api/conversations.info", params={"channel": "C0SBXGENRL1"}).json()["ok"] is True
        private = public.get("/api/conversations.info", params={"channel": "G0SBXPRIV01"}).json()
        assert (private["error"], private["needed"]) == ("missing_scope", "groups:read")
        listed = public.get("/api/conversations.list", params={"types": "public_channel,private_channel"}).json()
        assert (listed["error"], listed["needed"]) == ("missing_scope", "groups:read")
    with bot_token(hub, ["groups:read"]) as groups:
        listed = groups.get("/api/conversations.list", params={"types": "private_channel"}).json()
        assert [c["name"] for c in listed["channels"]] == ["managers"]  # only the private channels it is in


def test_conversations_list_pages_with_opaque_cursors(slack):
    client, control, _ = slack
    control.post("/_control/workspace", json={"pageSize": 2})  # Slack may send fewer than `limit`
    names, cursor, pages = [], "", 0
    while True:
        page = client.get("/api/conversations.list", params={"types": "public_channel,private_channel", "limit": 200,
                                                             **({"cursor": cursor} if cursor else {})}).json()
        assert page["ok"] and len(page["channels"]) <= 2
        assert required_conversation_fields() <= set(page["channels"][0])
        names += [c["name"] for c in page["channels"]]
        pages += 1
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
        assert not cursor.isdigit()  # opaque, as Slack's are: sent back as it came
    # The archived channel is listed unless excluded; the private one the bot is not in is not.
    assert names == ["general", "attendance-alerts", "reports", "old-news"] and pages == 2
    assert client.get("/api/conversations.list", params={"cursor": "nope"}).json() == {"ok": False, "error": "invalid_cursor"}
    assert client.get("/api/conversations.list", params={"limit": "many"}).json() == {"ok": False, "error": "invalid_limit"}
