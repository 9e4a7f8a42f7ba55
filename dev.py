#!/usr/bin/env python3
"""Set-up and entry point for a fresh clone; needs only Python 3.11+ and pip.

    python3 dev.py serve   # start the hub: SQLite in ./axhub-data, sandbox providers, :8000
    python3 dev.py test    # run the whole test suite (AXHUB_TEST_DATABASE_URL picks the database)
    python3 dev.py axhub … # any axhub command
    python3 dev.py lock    # re-resolve the dependencies and rewrite constraints.txt

Both create ./.venv on first use and install the core and every plugin in it (editable),
again whenever a pyproject.toml or constraints.txt changes. Every third-party package is
installed at the version constraints.txt pins: the set the suite was run with, so that
a clone installs today what it installed when it was tested. Extra arguments go to
`axhub serve` / pytest.
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
# The tested dependency set (pip freeze of a .venv the suite passed in), one pin a line.
LOCK = ROOT / "constraints.txt"
# pip's lines worth showing while it works (the rest is resolver detail).
SHOWN = ("Collecting", "Downloading", "Building", "Installing collected", "Successfully installed", "ERROR")
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
    for path in [ROOT / "dev.py", LOCK, *(m / "pyproject.toml" for m in members())]:
        if path.exists():
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
    pinned = LOCK.exists()
    print(f"installing axhub and its {len(members()) - 1} plugins into .venv"
          + (f", dependencies pinned by {LOCK.name}" if pinned else "") + " (about a minute the first time) …",
          file=sys.stderr, flush=True)
    pip_install(["-c", str(LOCK)] if pinned else [])
    STAMP.write_text(want)


def pip_install(extra: list[str]) -> None:
    """The members (editable) and the dev requirements, showing pip's progress lines."""
    editable = [x for m in members() for x in ("-e", str(m) + ("[testing]" if m.name == "core" else ""))]
    cmd = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
           *extra, *editable, *DEV_REQUIREMENTS]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = (tail + [line])[-30:]
        if line.lstrip().startswith(SHOWN):
            print("  " + line.strip()[:160], file=sys.stderr, flush=True)
    if proc.wait() != 0:
        sys.stderr.write("".join(tail))
        sys.exit(f"pip install failed (exit {proc.returncode}); its last lines are above")


def lock() -> int:
    """Re-resolve every dependency to the newest versions the pyproject.toml files allow,
    then write them to constraints.txt (run the suite before committing it)."""
    ensure_venv()
    print("re-resolving the dependencies (no pins) …", file=sys.stderr, flush=True)
    pip_install(["--upgrade", "--upgrade-strategy", "eager"])
    frozen = subprocess.run([str(PY), "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
                            check=True, capture_output=True, text=True).stdout
    pins = sorted((line for line in frozen.splitlines() if "==" in line and not line.startswith("-e")),
                  key=str.lower)
    LOCK.write_text("# The tested dependency set: what `python3 dev.py` installs. Rewritten by\n"
                    "# `python3 dev.py lock` (then run `python3 dev.py test` and commit it).\n" + "\n".join(pins) + "\n")
    STAMP.write_text(fingerprint())
    print(f"wrote {LOCK.name}: {len(pins)} pins", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "axhub", "lock"}:
        print(__doc__)
        return 2
    if argv[0] == "lock":
        return lock()
    ensure_venv()
    command, rest = argv[0], argv[1:]
    if command == "serve":
        cmd = [str(BIN / "axhub"), "serve", "--sandbox", *rest]
    elif command == "test":
        workers = test_workers(rest)
        print(f"running the tests{' on ' + workers[1] + ' workers' if workers else ''} "
              "(the whole suite takes a few minutes; pass a path to run part of it) …", file=sys.stderr, flush=True)
        cmd = [str(PY), "-m", "pytest", *workers, *rest]
    else:
        cmd = [str(BIN / "axhub"), *rest]
    os.chdir(ROOT)
    if os.name == "nt":
        return subprocess.call(cmd)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
