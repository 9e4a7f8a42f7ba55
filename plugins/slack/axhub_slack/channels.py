"""Which of the configured channels exist, and which have the bot in them: what the
connection test asks Slack before it recommends inviting the bot anywhere.

Channel ids are asked about one by one (``conversations.info``); ``#names`` are found
in the workspace's channel list (``conversations.list``, paged by
``response_metadata.next_cursor``), since Slack has no lookup by name. Both answer
``is_member`` for the bot. Public channels need ``channels:read``, private ones
``groups:read``; and Slack hides a private channel from a bot that is not in it, so a
channel Slack does not show may exist after all — the recommendations say so.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from axhub import InvalidCredentials, ProviderContext, ProviderError

from . import api
from .settings import SlackSettings

PAGE = 200  # Slack advises at most 200 conversations a page
# A workspace with thousands of channels is not read to its end for one connection test
# (conversations.list is a Tier 2 method: about 20 calls a minute).
MAX_PAGES = 10
READ = ("channels:read", "groups:read")


@dataclasses.dataclass
class Survey:
    """What Slack said about each configured channel (by the reference in the settings)."""

    found: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # ref -> objs_conversation
    absent: list[str] = dataclasses.field(default_factory=list)  # Slack shows no such channel
    unreadable: dict[str, str] = dataclasses.field(default_factory=dict)  # ref -> the scope it needs
    listed_all: bool = True  # False: the list was cut at MAX_PAGES before every name was found


def fields_naming(settings: SlackSettings) -> dict[str, list[str]]:
    """Each configured channel and the settings that name it (``channels.alerts``…)."""
    out: dict[str, list[str]] = {}
    for field, value in (("defaultChannel", settings.default_channel), ("channels.default", settings.channels.default),
                         ("channels.alerts", settings.channels.alerts), ("channels.reports", settings.channels.reports)):
        if value:
            out.setdefault(value, []).append(field)
    return out


async def survey(ctx: ProviderContext, token: str, refs: list[str], scopes: set[str]) -> Survey:
    """Ask Slack about ``refs`` (``#name`` or ``C…``/``G…`` ids) with what the grant may read."""
    result = Survey()
    for ref in refs:
        if ref.startswith("#"):
            continue
        try:
            response = await api.call(ctx, "conversations.info", token, http="GET", params={"channel": ref})
        except InvalidCredentials:
            raise
        except ProviderError as exc:
            if exc.reason == "channel_not_found":
                result.absent.append(ref)
            elif exc.reason == "missing_scope":
                # The grant reads one kind of channel (the caller checked it has a read scope),
                # and this channel is of the other kind.
                result.unreadable[ref] = "groups:read" if "channels:read" in scopes else "channels:read"
            else:
                raise
            continue
        result.found[ref] = response.json().get("channel") or {}
    names = {ref[1:]: ref for ref in refs if ref.startswith("#")}
    if names:
        types = [t for t, scope in (("public_channel", "channels:read"), ("private_channel", "groups:read"))
                 if scope in scopes]
        listed, complete = await by_name(ctx, token, set(names), ",".join(types))
        for name, ref in names.items():
            if name in listed:
                result.found[ref] = listed[name]
            elif complete:
                result.absent.append(ref)
            else:
                result.listed_all = False
    return result


async def by_name(ctx: ProviderContext, token: str, names: set[str], types: str) -> tuple[dict[str, dict], bool]:
    """The channels called ``names`` among those ``types`` lists, and whether the whole
    list was read (or every name found) — when not, a name not found may still exist."""
    found: dict[str, dict[str, Any]] = {}
    cursor = ""
    for _ in range(MAX_PAGES):
        params = {"types": types, "limit": str(PAGE), "exclude_archived": "false"}
        if cursor:
            params["cursor"] = cursor
        body = (await api.call(ctx, "conversations.list", token, http="GET", params=params)).json()
        for channel in body.get("channels") or []:
            if channel.get("name") in names:
                found[channel["name"]] = channel
        # Slack may send fewer channels than asked for before the end: only an empty
        # next_cursor ends the list.
        cursor = (body.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor or found.keys() >= names:
            return found, True
    return found, False


def label(ref: str, channel: dict[str, Any] | None = None) -> str:
    """``#name``, with the id when the settings use one (``#reports (C0…)``)."""
    if ref.startswith("#") or not channel or not channel.get("name"):
        return ref
    return f"#{channel['name']} ({ref})"


async def recommendations(ctx: ProviderContext, token: str, settings: SlackSettings, scopes: set[str], bot: str,
                          webhook_channel: str | None) -> list[str]:
    """What to do so that every configured channel takes the bot's messages."""
    naming = fields_naming(settings)
    refs = list(naming)
    if not refs:
        return []

    def where(ref: str) -> str:  # which setting to fix
        return "/".join(naming[ref])

    if not any(scope in scopes for scope in READ):
        return [f"Cannot check that @{bot} is in {', '.join(refs)}: grant channels:read and groups:read "
                "(scope channels.read) so that the connection test can see its channels"]
    try:
        seen = await survey(ctx, token, refs, scopes)
    except InvalidCredentials:
        raise
    except ProviderError as exc:
        # auth.test answered: a channel check Slack throttles or fails is advice lost, not a broken grant.
        return [f"Could not check @{bot}'s channels ({exc.reason}); run the test again later"]
    out: list[str] = []
    found = {ref: seen.found[ref] for ref in refs if ref in seen.found}  # in the settings' order
    # What Slack could show with this grant: a name not found may be of the other kind.
    hint = {("channels:read",): " among its public channels",
            ("groups:read",): " among the private channels the bot is in"}.get(tuple(s for s in READ if s in scopes), "")
    for ref in (r for r in refs if r in seen.absent):
        out.append(f"{ref} ({where(ref)}) does not exist in the workspace{hint if ref.startswith('#') else ''}: "
                   "create it or fix the setting "
                   "(a private channel shows only once the bot is in it)")
    if not seen.listed_all:
        unknown = [ref for ref in refs if ref not in seen.found and ref not in seen.absent and ref not in seen.unreadable]
        out.append(f"{', '.join(unknown)} not found in the first {MAX_PAGES * PAGE} channels of the workspace: "
                   "use the channel id (C…) in the settings to have it checked")
    for ref, needed in seen.unreadable.items():
        out.append(f"Cannot check {ref} ({where(ref)}): Slack wants {needed} for it; reconnect with the "
                   "channels.read scope")
    archived = [ref for ref, channel in found.items() if channel.get("is_archived")]
    for ref in archived:
        out.append(f"{label(ref, found[ref])} ({where(ref)}) is archived: Slack takes no messages there")
    # chat:write.public lets the bot post in a public channel it has not joined; never in a private one.
    outside = [ref for ref, channel in found.items()
               if ref not in archived and channel.get("is_member") is False
               and (channel.get("is_private") or "chat:write.public" not in scopes)]
    if outside and "chat:write" in scopes:
        names = ", ".join(label(ref, found[ref]) for ref in outside)
        why = "it is not a member" + ("" if "chat:write.public" in scopes
                                      else " and, without chat:write.public (scope messages.public), "
                                           "posts only in channels it is in")
        fallback = f"; until then its messages there go to {webhook_channel} through the incoming webhook" \
            if webhook_channel else ""
        out.append(f"Invite @{bot} to {names} (/invite @{bot} in each): {why}{fallback}")
    return out
