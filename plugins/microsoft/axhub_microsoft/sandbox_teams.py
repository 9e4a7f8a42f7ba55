"""The Teams half of the Graph sandbox, in memory: the online meetings Outlook makes for
events created with ``isOnlineMeeting``, and a team's channels to post messages in.

Shapes are Graph v1.0's (``microsoft-graph-v1.0.csdl.xml``: ``onlineMeeting`` and its
base ``onlineMeetingBase``, ``onlineMeetingInfo``, ``lobbyBypassSettings``,
``chatMessage``, ``itemBody``) and its documented behaviour:

- an event created (or updated) with ``isOnlineMeeting: true`` and
  ``onlineMeetingProvider: teamsForBusiness`` gets a Teams meeting: the event answers
  ``onlineMeeting: {joinUrl, conferenceId, …}``, and the meeting itself is found at
  ``GET /me/onlineMeetings?$filter=JoinWebUrl eq '{joinUrl}'`` (the only way Graph offers
  from an event to its meeting; a listing without that filter is a 400), read and
  patched at ``/me/onlineMeetings/{id}``. Once online an event stays online (Outlook
  ignores later changes of ``isOnlineMeeting``); deleting the event ends the meeting.
  A calendar whose ``allowedOnlineMeetingProviders`` lacks ``teamsForBusiness`` (a
  personal account) makes the event without a meeting.
- ``POST /teams/{team-id}/channels/{channel-id}/messages`` takes a ``chatMessage`` whose
  ``body`` is an ``itemBody`` (``text`` or ``html``) and answers 201 with the message;
  an unknown team or channel is a 404 ``NotFound``.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from .sandbox_event_rules import GraphFault, bad, stamp

TEAM_ID = "02bd9fd6-8f93-4758-87c3-1fb73740a315"
GENERAL = "19:09fc54a3141a45d0bc769cf506d2e079@thread.tacv2"
ALERTS = "19:5b7e5c2d9a0f4e0c8a3f1d2b6c4e8a10@thread.tacv2"
CHANNELS = {GENERAL: "General", ALERTS: "Alertes présence"}
PROVIDERS = ("unknown", "skypeForBusiness", "skypeForConsumer", "teamsForBusiness")
LOBBY_SCOPES = ("organizer", "organization", "organizationAndFederated", "everyone", "unknownFutureValue",
                "invited", "organizationExcludingGuests")
PRESENTERS = ("everyone", "organization", "roleIsPresenter", "organizer", "unknownFutureValue")
CHAT_MODES = ("enabled", "disabled", "limited", "unknownFutureValue")
# onlineMeeting properties a client may change (Graph: "Update onlineMeeting"); the
# others (ids, URLs, chatInfo, joinInformation…) are Teams' own.
MEETING_FLAGS = frozenset({
    "allowAttendeeToEnableCamera", "allowAttendeeToEnableMic", "allowBreakoutRooms", "allowCopyingAndSharingMeetingContent",
    "allowParticipantsToChangeName", "allowPowerPointSharing", "allowRecording", "allowTeamworkReactions",
    "allowTranscription", "allowWhiteboard", "isEntryExitAnnounced", "recordAutomatically",
})
MEETING_WRITABLE = MEETING_FLAGS | {"allowedPresenters", "allowMeetingChat", "lobbyBypassSettings", "subject",
                                    "startDateTime", "endDateTime"}
MESSAGE_WRITABLE = frozenset({"body", "subject", "importance", "mentions", "attachments", "summary"})
_FILTER = re.compile(r"^\s*joinWebUrl\s+eq\s+'(?P<url>(?:[^']|'')*)'\s*$", re.I)
MAX_MESSAGE = 28 * 1024  # Teams' limit on a message, in bytes of its body


def _not_found(message: str) -> GraphFault:
    return GraphFault(404, "NotFound", message)


class Teams:
    def __init__(self, tenant_id: str, user_id: str, user_name: str, user_email: str) -> None:
        self.tenant_id, self.user_id, self.user_name, self.user_email = tenant_id, user_id, user_name, user_email
        self.reset()

    def reset(self) -> None:
        self.meetings: dict[str, dict[str, Any]] = {}
        self.by_url: dict[str, str] = {}
        self.teams: dict[str, dict[str, str]] = {TEAM_ID: dict(CHANNELS)}
        self.messages: list[dict[str, Any]] = []

    # -- online meetings -------------------------------------------------------------
    def new_meeting(self, subject: str, start: datetime, end: datetime) -> dict[str, Any]:
        """A Teams meeting for an event: the event's ``onlineMeeting`` (onlineMeetingInfo)."""
        thread = f"19:meeting_{secrets.token_urlsafe(36)[:48]}@thread.v2"
        context = quote(f'{{"Tid":"{self.tenant_id}","Oid":"{self.user_id}"}}', safe="")
        join = f"https://teams.microsoft.com/l/meetup-join/{quote(thread, safe='')}/0?context={context}"
        meeting_id = secrets.token_urlsafe(60)[:80]  # Graph's are long opaque base64 strings
        conference = str(secrets.randbelow(10 ** 9)).zfill(9)
        now = datetime.now(timezone.utc)
        self.meetings[meeting_id] = {
            "id": meeting_id, "creationDateTime": stamp(now), "startDateTime": stamp(start), "endDateTime": stamp(end),
            "joinWebUrl": join, "subject": subject, "externalId": None, "isBroadcast": False,
            "allowedPresenters": "everyone", "allowMeetingChat": "enabled", "allowTeamworkReactions": True,
            "allowAttendeeToEnableCamera": True, "allowAttendeeToEnableMic": True, "allowRecording": True,
            "allowTranscription": True, "recordAutomatically": False, "isEntryExitAnnounced": True,
            "allowParticipantsToChangeName": False, "videoTeleconferenceId": None,
            # Teams' default for a new meeting: people of the organisation skip the lobby.
            "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
            "joinMeetingIdSettings": {"isPasscodeRequired": False, "joinMeetingId": conference, "passcode": None},
            "joinInformation": {"contentType": "html", "content": f"data:text/html,<a href=\"{join}\">Join the meeting</a>"},
            "chatInfo": {"threadId": thread, "messageId": "0", "replyChainMessageId": None},
            "participants": {"organizer": {"upn": self.user_email, "role": "presenter",
                                           "identity": {"user": {"id": self.user_id, "displayName": None}}},
                             "attendees": []},
        }
        self.by_url[join] = meeting_id
        return {"joinUrl": join, "conferenceId": conference, "tollNumber": None, "tollFreeNumbers": [],
                "phones": [], "quickDial": None}

    def end_meeting(self, join_url: str | None) -> None:
        meeting_id = self.by_url.pop(join_url or "", None)
        if meeting_id:
            self.meetings.pop(meeting_id, None)

    def find(self, query: dict[str, str]) -> list[dict[str, Any]]:
        match = _FILTER.match(query.get("$filter") or "")
        if not match:
            raise bad("Filter expression expected - /onlineMeetings?$filter=JoinWebUrl eq 'joinWebUrl'.", "InvalidArgument")
        meeting_id = self.by_url.get(match["url"].replace("''", "'"))
        return [dict(self.meetings[meeting_id])] if meeting_id else []

    def meeting(self, meeting_id: str) -> dict[str, Any]:
        found = self.meetings.get(meeting_id)
        if found is None:
            raise _not_found("The onlineMeeting was not found.")
        return dict(found)

    def patch_meeting(self, meeting_id: str, body: Any) -> dict[str, Any]:
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            raise _not_found("The onlineMeeting was not found.")
        if not isinstance(body, dict) or not body:
            raise bad("Empty Payload. JSON content expected.", "BadRequest")
        for name, value in body.items():
            if name not in MEETING_WRITABLE:
                raise bad(f"The property '{name}' cannot be set on type 'microsoft.graph.onlineMeeting'.", "InvalidArgument")
            if name in MEETING_FLAGS and not isinstance(value, bool):
                raise bad(f"Cannot convert the literal '{value}' to the expected type 'Edm.Boolean'.", "BadRequest")
        if "allowedPresenters" in body and body["allowedPresenters"] not in PRESENTERS:
            raise bad(f"Requested value '{body['allowedPresenters']}' was not found.", "BadRequest")
        if "allowMeetingChat" in body and body["allowMeetingChat"] not in CHAT_MODES:
            raise bad(f"Requested value '{body['allowMeetingChat']}' was not found.", "BadRequest")
        lobby = body.get("lobbyBypassSettings")
        if lobby is not None:
            if not isinstance(lobby, dict) or set(lobby) - {"scope", "isDialInBypassEnabled"} \
                    or lobby.get("scope", "organization") not in LOBBY_SCOPES:
                raise bad("lobbyBypassSettings must be {scope: lobbyBypassScope, isDialInBypassEnabled}.", "BadRequest")
            body = {**body, "lobbyBypassSettings": {**meeting["lobbyBypassSettings"], **lobby}}
        meeting.update(body)
        return dict(meeting)

    # -- channel messages ------------------------------------------------------------
    def post(self, team_id: str, channel_id: str, body: Any) -> dict[str, Any]:
        channels = self.teams.get(team_id)
        if channels is None:
            raise _not_found(f"No team found with Group Id {team_id}")
        if channel_id not in channels:
            raise _not_found("Channel not found")
        if not isinstance(body, dict):
            raise bad("Empty Payload. JSON content expected.", "BadRequest")
        for name in body:
            if name not in MESSAGE_WRITABLE:
                raise bad(f"The property '{name}' does not exist on type 'microsoft.graph.chatMessage'.", "BadRequest")
        item = body.get("body")
        if not isinstance(item, dict) or set(item) - {"contentType", "content"} \
                or item.get("contentType", "text") not in ("text", "html") or not isinstance(item.get("content"), str) \
                or not item["content"].strip():
            raise bad("Missing body content", "BadRequest")
        if len(item["content"].encode()) > MAX_MESSAGE:
            raise GraphFault(413, "RequestEntityTooLarge", "Message size exceeds the maximum allowed size.")
        now = datetime.now(timezone.utc)
        message_id = str(int(time.time() * 1000) + len(self.messages))
        message = {
            "id": message_id, "replyToId": None, "etag": message_id, "messageType": "message",
            "createdDateTime": stamp(now), "lastModifiedDateTime": stamp(now), "lastEditedDateTime": None,
            "deletedDateTime": None, "subject": body.get("subject"), "summary": body.get("summary"), "chatId": None,
            "importance": body.get("importance", "normal"), "locale": "en-us",
            "webUrl": f"https://teams.microsoft.com/l/message/{quote(channel_id, safe='')}/{message_id}"
                      f"?groupId={team_id}&tenantId={self.tenant_id}&createdTime={message_id}&parentMessageId={message_id}",
            "policyViolation": None, "eventDetail": None,
            "from": {"application": None, "device": None,
                     "user": {"id": self.user_id, "displayName": self.user_name}},
            "body": {"contentType": item.get("contentType", "text"), "content": item["content"]},
            "channelIdentity": {"teamId": team_id, "channelId": channel_id},
            "attachments": list(body.get("attachments") or []), "mentions": list(body.get("mentions") or []),
            "reactions": [],
        }
        self.messages.append({**message, "channelName": channels[channel_id], "requestId": str(uuid.uuid4())})
        return message
