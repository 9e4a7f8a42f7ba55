"""constraints.txt is the tested dependency set: the suite runs in the versions it pins,
and it pins every third-party package the hub and its plugins need."""

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"axhub", "axhub-google", "axhub-microsoft", "axhub-slack", "axhub-zoom", "axhub-webhooks"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            out[canonical(name)] = version.strip()
    return out


def test_the_suite_runs_in_the_pinned_versions():
    locked = pins()
    wrong = {name: (version, metadata.version(name)) for name, version in locked.items()
             if metadata.version(name) != version}
    assert wrong == {}, "installed versions differ from constraints.txt: run python3 dev.py (or dev.py lock)"


def test_every_dependency_of_the_hub_and_its_plugins_is_pinned():
    locked = pins()
    missing, seen, todo = set(), set(), [(name, ("testing",) if name == "axhub" else ()) for name in FIRST_PARTY]
    while todo:
        name, extras = todo.pop()
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (*extras, "")):
                continue
            dep = canonical(req.name)
            if dep in FIRST_PARTY or dep in seen:
                continue
            seen.add(dep)
            if dep not in locked:
                missing.add(dep)
            todo.append((dep, tuple(req.extras)))
    assert missing == set(), "not pinned in constraints.txt: run python3 dev.py lock"
