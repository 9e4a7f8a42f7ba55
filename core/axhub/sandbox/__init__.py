"""Building blocks for provider sandboxes (public API for plugin authors).

A sandbox is a small ASGI app that answers the part of a provider's real API that its
plugin uses, with the provider's real request and response shapes. This module holds
what every sandbox needs and no provider's quirks:

- :class:`OAuthServer`: an in-memory authorization server (codes, PKCE S256, access and
  refresh tokens, rotation, revocation, expiry) that a sandbox's own routes call and
  render in their provider's shapes;
- :class:`Faults`: fault injection (status, body, headers, delay, count) on any route;
- :func:`oauth_routes`: the standard OAuth 2.0 authorize/token/revoke routes over an
  :class:`OAuthServer`, for a provider with no quirks there;
- :class:`CalendarStore`: an in-memory calendar (pages, sync cursors with tombstones, a
  410 for an expired cursor, idempotent client ids, write counts, control routes), so a
  calendar sandbox is its routes and its field mapping;
- :class:`Outgoing`: what a sandbox that pushes to the hub shares (the next deliveries'
  drop/duplicate/… controls, a delay, the log, the deliveries under way) and
  :func:`pushable` (https, or http on loopback);
- :func:`build_app`: a Litestar app of the provider's routes plus ``/_control`` routes
  that tests use to read counters, inject faults, expire or revoke tokens.

Every sandbox auto-approves consent as :data:`TEST_USER`; adding
``sandbox_consent=deny`` to the authorization URL takes the ``access_denied`` path.
"""

from .app import build_app, form_of, redirect
from .calendar import CalendarStore, Conflict, CursorGone, StoredEvent
from .faults import Fault, Faults
from .outgoing import Outgoing, pushable
from .oauth_server import TEST_USER, Issued, OAuthServer, TestUser, TokenError, client_credentials
from .standard_oauth import oauth_routes

__all__ = ["TEST_USER", "CalendarStore", "Conflict", "CursorGone", "Fault", "Faults", "Issued", "OAuthServer", "Outgoing",
           "StoredEvent", "TestUser", "TokenError", "build_app", "client_credentials", "form_of", "oauth_routes", "pushable",
           "redirect"]
