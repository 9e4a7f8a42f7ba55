"""How much a plugin author writes: lines of each generated plugin, beside the limits.

    .venv/bin/python bench/plugin_size.py [--conformance]

``axhub plugin new NAME --type T`` for every type, then ``wc -l`` of the plugin's code
(its package without the sandbox) and of its sandbox. The generated plugin is already
"filled in" for a simple OAuth2 service of its type: its calls are the ones such a
provider has (channels, users, posts; events listed with sync tokens, created,
changed, deleted; the standard OAuth routes). Limits: a chat plugin ≤ 120 lines and its
sandbox ≤ 100; a calendar plugin ≤ 150 and its sandbox ≤ 120. ``--conformance`` also installs each package and
times its own conformance tests (pytest in the package, as its author runs them).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMITS = {"communication": (120, 100), "calendar": (150, 120)}  # (plugin, sandbox) lines


def lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conformance", action="store_true", help="also install and time each package's own tests")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"{'type':<14} {'plugin':>7} {'limit':>6} {'sandbox':>8} {'limit':>6} {'conformance':>12}")
        for kind in ("communication", "calendar", "video"):
            slug = "size" + kind[:4]
            subprocess.run([sys.executable, "-m", "axhub.cli", "plugin", "new", slug, "--type", kind, "--dir", tmp],
                           check=True, capture_output=True)
            package = root / f"axhub-{slug}"
            code = package / f"axhub_{slug}"
            plugin = sum(lines(p) for p in code.glob("*.py") if p.name != "sandbox.py")
            sandbox = lines(code / "sandbox.py")
            plugin_limit, sandbox_limit = (str(x) for x in LIMITS.get(kind, ("-", "-")))
            took = "-"
            if args.conformance:
                subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                                "--no-index", str(package)], check=True, capture_output=True)
                start = time.perf_counter()
                out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=package,
                                     capture_output=True, text=True)
                took = f"{time.perf_counter() - start:.1f} s" + ("" if out.returncode == 0 else " FAILED")
                subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", f"axhub-{slug}"], check=True,
                               capture_output=True)
            print(f"{kind:<14} {plugin:>7} {plugin_limit:>6} {sandbox:>8} {sandbox_limit:>6} {took:>12}")


if __name__ == "__main__":
    main()
