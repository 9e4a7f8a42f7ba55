"""The sandbox workspace: channels, members, what was posted, and the Web API methods and
incoming webhooks that read and write them — ``chat.postMessage``,
``users.lookupByEmail``, ``conversations.list``, ``conversations.info``,
``POST /services/T…/B…/…``.

As Slack does: ``chat.postMessage`` takes form fields (``blocks`` as a JSON string) or a
JSON body, accepts a channel id or ``#name``, refuses channels the bot is not in
(``not_in_channel``, unless the token has ``chat:write.public`` and the channel is
public), archived ones (``is_archived``) and unknown ones (``channel_not_found``), and
allows about one message per second per channel with short bursts: beyond that, HTTP
429, ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``. Incoming webhooks
answer ``ok`` as plain text, and errors as plain-text statuses.

``conversations.list`` and ``conversations.info`` answer as Slack answers a bot: public
channels need ``channels:read``, private ones ``groups:read``, and a private channel the
bot is not in does not exist for it (not listed, ``channel_not_found``). Lists page with
opaque ``response_metadata.next_cursor`` values (a bad one is ``invalid_cursor``), and,
as Slack warns, a page may hold fewer channels than ``limit`` asked for
(``POST /_control/workspace {"pageSize": n}`` caps it, to exercise paging).

Tests and demos read what was posted at ``GET /_control/messages`` and shape the
workspace with ``POST /_control/channels`` and ``POST /_control/members``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import time
from typing import Any, Callable

from litestar import Request, Response, get, post, route
from litestar.params import FromPath, JSONBody

BURST = 3  # messages a channel takes at once before Slack's one-per-second applies
# Every scope that lets a token read some kind of conversation (Slack's ``needed`` when none is there).
READ_SCOPES = "channels:read,groups:read,im:read,mpim:read"


@dataclasses.dataclass
class Channel:
    id: str
    name: str
    private: bool = False
    archived: bool = False
    bot_member: bool = False
    tokens: float = BURST
    refilled: float = dataclasses.field(default_factory=time.monotonic)

    def take(self) -> float | None:
        """One message's worth of the channel's rate: None if it may go, else the wait."""
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.refilled))
        self.refilled = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return 1 - self.tokens

    @property
    def scope(self) -> str:
        """The scope a token needs to read this channel."""
        return "groups:read" if self.private else "channels:read"

    def visible(self) -> bool:
        # A bot sees a private channel only once it has been invited into it.
        return not self.private or self.bot_member

    def view(self) -> dict[str, Any]:
        """The channel as ``objs_conversation`` (every field the OpenAPI file requires)."""
        blank = {"value": "", "creator": "", "last_set": 0}
        return {"id": self.id, "name": self.name, "name_normalized": self.name, "created": 1700000000,
                "creator": "U0SANDBOX01", "is_channel": not self.private, "is_group": self.private,
                "is_im": False, "is_mpim": False, "is_private": self.private, "is_archived": self.archived,
                "is_general": self.name == "general", "is_shared": False, "is_ext_shared": False,
                "is_org_shared": False, "is_member": self.bot_member, "num_members": 3,
                "topic": dict(blank), "purpose": dict(blank), "previous_names": []}


@dataclasses.dataclass
class Workspace:
    channels: dict[str, Channel] = dataclasses.field(default_factory=dict)
    members: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # email -> member
    messages: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    lookups: int = 0
    page_size: int | None = None  # at most this many channels a page, whatever ``limit`` asks

    def reset(self) -> None:
        self.channels.clear()
        self.members.clear()
        self.messages.clear()
        self.lookups = 0
        self.page_size = None
        # The workspace every sandbox starts with: the bot is in #general only.
        for channel in (Channel("C0SBXGENRL1", "general", bot_member=True), Channel("C0SBXALERT1", "attendance-alerts"),
                        Channel("C0SBXRPRTS1", "reports"), Channel("C0SBXOLD001", "old-news", archived=True),
                        Channel("G0SBXPRIV01", "managers", private=True)):
            self.channels[channel.id] = channel

    def find(self, ref: str) -> Channel | None:
        if ref.startswith("#"):
            return next((c for c in self.channels.values() if c.name == ref[1:]), None)
        return self.channels.get(ref)


def routes(workspace: Workspace, caller: Callable, ok: Callable, slack_error: Callable, params_of: Callable,
           webhooks: dict[str, str], count: Callable[[str], None]) -> list[Any]:
    """``count(name)`` adds one to a ``/_control/stats`` counter (the server's counters are
    replaced on every reset, so they are not held here)."""

    async def signed_in(request: Request, method: str) -> tuple[dict[str, str], Any] | Response:
        """A Web API method's start: counted, its parameters read, its caller's token
        checked. The parameters and the token, or Slack's refusal."""
        count(f"api.{method}")
        params = await params_of(request)
        issued, error = caller(request, params)
        if issued is None:
            return slack_error(error or "invalid_auth")
        return params, issued

    @route("/api/chat.postMessage", http_method=["POST"])
    async def post_message(request: Request) -> Response:
        count("api.chat.postMessage")
        if request.headers.get("content-type", "").startswith("application/json"):
            params = await request.json()
            blocks = params.get("blocks")
        else:
            params = await params_of(request)
            try:
                blocks = json.loads(params["blocks"]) if params.get("blocks") else None
            except ValueError:
                return slack_error("invalid_blocks_format")
        issued, error = caller(request, params)
        if issued is None:
            return slack_error(error or "invalid_auth")
        if "chat:write" not in issued.scopes:
            return slack_error("missing_scope", needed="chat:write", provided=",".join(issued.scopes))
        channel = workspace.find(str(params.get("channel") or ""))
        if channel is None:
            return slack_error("channel_not_found")
        if channel.archived:
            return slack_error("is_archived")
        if not channel.bot_member and (channel.private or "chat:write.public" not in issued.scopes):
            return slack_error("not_in_channel")
        text = params.get("text") or ""
        if not text and not blocks:
            return slack_error("no_text")
        if len(text) > 40000:
            return slack_error("msg_too_long")
        wait = channel.take()
        if wait is not None:
            return slack_error("ratelimited", 429, {"Retry-After": str(max(1, round(wait)))})
        ts = f"{time.time():.6f}"
        message = {"type": "message", "channel": channel.id, "channelName": channel.name, "text": text,
                   "blocks": blocks, "ts": ts, "via": "chat.postMessage", "bot_id": "B0SBXBOT001"}
        workspace.messages.append(message)
        return ok(issued, {"channel": channel.id, "ts": ts,
                           "message": {"type": "message", "text": text, "ts": ts, "bot_id": "B0SBXBOT001"}},
                  accepted="chat:write")

    @route("/api/users.lookupByEmail", http_method=["GET", "POST"])
    async def lookup_by_email(request: Request) -> Response:
        started = await signed_in(request, "users.lookupByEmail")
        if isinstance(started, Response):
            return started
        params, issued = started
        if "users:read.email" not in issued.scopes:
            return slack_error("missing_scope", needed="users:read.email", provided=",".join(issued.scopes))
        workspace.lookups += 1
        member = workspace.members.get((params.get("email") or "").strip().lower())
        if member is None:
            return slack_error("users_not_found")
        return ok(issued, {"user": member}, accepted="users:read.email")

    def missing_scope(issued, needed: str) -> Response:
        return slack_error("missing_scope", needed=needed, provided=",".join(issued.scopes))

    @route("/api/conversations.list", http_method=["GET", "POST"])
    async def conversations_list(request: Request) -> Response:
        started = await signed_in(request, "conversations.list")
        if isinstance(started, Response):
            return started
        params, issued = started
        types = [t.strip() for t in (params.get("types") or "public_channel").split(",") if t.strip()]
        if any(t not in ("public_channel", "private_channel", "mpim", "im") for t in types):
            return slack_error("invalid_types")
        # Each kind asked for needs its own read scope (the sandbox has no IMs to list).
        for kind, scope in (("public_channel", "channels:read"), ("private_channel", "groups:read"),
                            ("mpim", "mpim:read"), ("im", "im:read")):
            if kind in types and scope not in issued.scopes:
                return missing_scope(issued, scope)
        exclude_archived = params.get("exclude_archived") in ("1", "true")
        try:
            limit = int(params.get("limit") or 100)
        except ValueError:
            return slack_error("invalid_limit")
        limit = max(1, min(1000, limit, workspace.page_size or 1000))
        try:
            start = _offset(params.get("cursor") or "")
        except ValueError:
            return slack_error("invalid_cursor")
        listed = [c for c in workspace.channels.values()
                  if ("private_channel" if c.private else "public_channel") in types and c.visible()
                  and not (exclude_archived and c.archived)]
        page = listed[start:start + limit]
        more = start + limit < len(listed)
        return ok(issued, {"channels": [c.view() for c in page],
                           "response_metadata": {"next_cursor": _cursor(start + limit) if more else ""}},
                  accepted=READ_SCOPES)

    @route("/api/conversations.info", http_method=["GET", "POST"])
    async def conversations_info(request: Request) -> Response:
        started = await signed_in(request, "conversations.info")
        if isinstance(started, Response):
            return started
        params, issued = started
        if not set(READ_SCOPES.split(",")) & set(issued.scopes):
            return missing_scope(issued, READ_SCOPES)
        # An id only: Slack does not look channels up by name here.
        channel = workspace.channels.get(params.get("channel") or "")
        if channel is None or not channel.visible():
            return slack_error("channel_not_found")
        if channel.scope not in issued.scopes:
            return missing_scope(issued, channel.scope)
        return ok(issued, {"channel": channel.view()}, accepted=READ_SCOPES)

    @post("/services/{team:str}/{hook:str}/{secret:str}", status_code=200)
    async def incoming_webhook(request: Request, team: FromPath[str], hook: FromPath[str], secret: FromPath[str]) -> Response:
        count("webhook.post")
        url = f"https://hooks.slack.com/services/{team}/{hook}/{secret}"
        name = webhooks.get(url)
        if name is None:
            return Response("no_service", status_code=404, media_type="text/plain")
        channel = workspace.find(name)
        if channel is None:
            return Response("channel_not_found", status_code=404, media_type="text/plain")
        if channel.archived:
            return Response("channel_is_archived", status_code=410, media_type="text/plain")
        try:
            body = await request.json()
        except ValueError:
            return Response("invalid_payload", status_code=400, media_type="text/plain")
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return Response("no_text", status_code=400, media_type="text/plain")
        wait = channel.take()
        if wait is not None:
            return Response("rate_limited", status_code=429, media_type="text/plain",
                            headers={"Retry-After": str(max(1, round(wait)))})
        workspace.messages.append({"type": "message", "channel": channel.id, "channelName": channel.name,
                                   "text": body.get("text") or "", "blocks": body.get("blocks"),
                                   "ts": f"{time.time():.6f}", "via": "incoming-webhook"})
        return Response("ok", status_code=200, media_type="text/plain")

    @get("/_control/messages", sync_to_thread=False)
    def messages() -> dict[str, Any]:
        return {"messages": workspace.messages, "lookups": workspace.lookups}

    @get("/_control/webhooks", sync_to_thread=False)
    def issued_webhooks() -> dict[str, Any]:
        """The incoming webhooks installs created (their URLs are secrets the hub keeps)."""
        return {"webhooks": [{"url": url, "channel": channel} for url, channel in webhooks.items()]}

    @post("/_control/channels", status_code=200, sync_to_thread=False)
    def add_channel(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        """``{"id", "name", "private"?, "archived"?, "botMember"?}``; an existing id is changed."""
        channel = Channel(data["id"], data["name"], bool(data.get("private")), bool(data.get("archived")),
                          bool(data.get("botMember")))
        workspace.channels[channel.id] = channel
        return channel.view()

    @post("/_control/workspace", status_code=200, sync_to_thread=False)
    def configure(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        """``{"pageSize": n}``: list pages hold at most n channels (null: as ``limit`` asks)."""
        if "pageSize" in data:
            workspace.page_size = int(data["pageSize"]) if data["pageSize"] else None
        return {"pageSize": workspace.page_size}

    @post("/_control/members", status_code=200, sync_to_thread=False)
    def add_member(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        """``{"id": "U…", "email", "name"}``: a member ``users.lookupByEmail`` finds."""
        member = {"id": data["id"], "team_id": "T0SANDBOX01", "name": data.get("name") or data["id"].lower(),
                  "real_name": data.get("name") or "", "deleted": False, "is_bot": False,
                  "profile": {"email": data["email"].lower(), "real_name": data.get("name") or "",
                              "display_name": data.get("name") or ""}}
        workspace.members[data["email"].lower()] = member
        return member

    return [post_message, lookup_by_email, conversations_list, conversations_info, incoming_webhook, messages,
            issued_webhooks, add_channel, configure, add_member]


def _cursor(offset: int) -> str:
    # Slack's cursors are opaque base64 strings; callers must send them back as they came.
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        text = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(cursor) from None
    kind, _, number = text.partition(":")
    if kind != "offset" or not number.isdigit():
        raise ValueError(cursor)
    return int(number)
