"""The ``axhub`` command (:mod:`.commands`) and what it writes for plugin authors
(:mod:`.scaffold`, ``axhub plugin new``)."""

from .commands import main

__all__ = ["main"]
