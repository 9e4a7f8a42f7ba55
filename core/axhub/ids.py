"""Public ids in the spec's style (``int-…``): a time prefix keeps them roughly sortable,
random bits keep them unguessable."""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    return f"{prefix}-{int(time.time() * 1000):011x}{secrets.token_hex(6)}"
