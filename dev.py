#!/usr/bin/env python3
"""Set-up and entry point for a fresh clone; needs only Python 3.11+ and pip.

    python3 dev.py serve   # start the hub: SQLite in ./axhub-data, sandbox providers, :8000
    python3 dev.py test    # run the whole test suite (AXHUB_TEST_DATABASE_URL picks the database)

Both create ./.venv on first use and install the core and every plugin in it (editable),
again whenever a pyproject.toml changes. Extra arguments go to `axhub serve` / pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".axhub-installed"
# hatchling: tests build throwaway plugin distributions offline (--no-build-isolation).
# pytest-xdist: the suite waits on sockets and subprocesses more than it computes, so
# workers (each with its own hub and databases) finish it in about half the time.
# mkdocs + mkdocstrings: the plugin authors' API reference is generated from the
# docstrings, and the suite builds it (a public name without a docstring fails).
# playwright: the console's browser tests drive the system Chromium (never Playwright's
# own browser download).
DEV_REQUIREMENTS = ["pytest>=8", "hypothesis>=6.100", "pytest-timeout>=2.3", "hatchling>=1.24", "pytest-xdist>=3.5",
                    "mkdocs>=1.6", "mkdocstrings[python]>=0.26", "playwright>=1.45"]


def test_workers(args: list[str]) -> list[str]:
    """``-n N`` unless the arguments choose: AXHUB_TEST_WORKERS, or one per core up to 4
    (``-n 0`` runs in one process, as when debugging with ``-x --pdb``)."""
    chosen = ("-n", "--numprocesses", "--pdb", "no:xdist")
    if any(a == c or a.startswith(c) for a in args for c in chosen):
        return []
    workers = os.environ.get("AXHUB_TEST_WORKERS") or str(min(4, os.cpu_count() or 1))
    return ["-n", workers]


def members() -> list[Path]:
    return [ROOT / "core", *sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))]


def fingerprint() -> str:
    h = hashlib.sha256()
    for path in [ROOT / "dev.py", *(m / "pyproject.toml" for m in members())]:
        h.update(path.read_bytes())
    return h.hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit("axhub needs Python 3.11 or newer")
    if not PY.exists():
        print("creating .venv …", file=sys.stderr, flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    want = fingerprint()
    if STAMP.exists() and STAMP.read_text() == want:
        return
    print("installing axhub and its plugins into .venv …", file=sys.stderr, flush=True)
    args = [str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    editable = [x for m in members() for x in ("-e", str(m) + ("[testing]" if m.name == "core" else ""))]
    subprocess.check_call([*args, *editable, *DEV_REQUIREMENTS], stdout=sys.stderr)
    STAMP.write_text(want)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "axhub"}:
        print(__doc__)
        return 2
    ensure_venv()
    command, rest = argv[0], argv[1:]
    if command == "serve":
        cmd = [str(BIN / "axhub"), "serve", "--sandbox", *rest]
    elif command == "test":
        cmd = [str(PY), "-m", "pytest", *test_workers(rest), *rest]
    else:
        cmd = [str(BIN / "axhub"), *rest]
    os.chdir(ROOT)
    if os.name == "nt":
        return subprocess.call(cmd)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
