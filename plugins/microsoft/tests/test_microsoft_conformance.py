"""The conformance suite every provider plugin runs (axhub.testing.conformance)."""

from datetime import datetime, timedelta, timezone

from axhub.testing.conformance import NotifierConformance, ProviderConformance


class TestProviderConformance(ProviderConformance):
    provider = "microsoft"


class TestNotifierConformance(NotifierConformance):
    provider = "microsoft"
    connect_body = {"scopes": ["calendar.read", "teams.messages"],
                    "settings": {"autoSync": False, "teamsChannel": {
                        "teamId": "02bd9fd6-8f93-4758-87c3-1fb73740a315",
                        "channelId": "19:09fc54a3141a45d0bc769cf506d2e079@thread.tacv2"}}}
    notification = ("eventReminder", {"eventId": "evt-1", "title": "Kick-off",
                                      "start": (datetime.now(timezone.utc) + timedelta(minutes=15)).isoformat()})
    send_path = "/v1.0/teams/"

    def sent(self, hub):
        return len(hub.sandbox(self.provider).get("/_control/teams/messages").json()["messages"])
