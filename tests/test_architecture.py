"""The house's rules, held by tools rather than by review: the import contracts of
pyproject.toml (layers one way, no cycles, plugins apart), and modules a reader can hold
in mind (a docstring saying what each holds, about 400 lines at most)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"
MAX_LINES = 400


def lint(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # PYTHONPATH: a throwaway package in cwd is found as the tree's own packages are.
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT), "--no-cache", "--no-logo", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 kept, 0 broken" in result.stdout


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


CONFIG = """\
[tool.importlinter]
root_packages = ["shop"]
exclude_type_checking_imports = true
contract_types = ["acyclic_modules: axhub.testing.imports.AcyclicModulesContract"]

[[tool.importlinter.contracts]]
name = "no cycles"
type = "acyclic_modules"
packages = ["shop"]
"""


def test_a_cycle_through_an_import_inside_a_function_breaks_the_contract(tmp_path):
    write_package(tmp_path, {
        "pyproject.toml": CONFIG,
        "shop/__init__.py": "from .cart import Cart\n",
        "shop/cart.py": """
            class Cart:
                def total(self):
                    from .prices import price  # a function-level import counts
                    return price()
        """,
        "shop/prices.py": """
            def price():
                from . import Cart  # the package's __init__, which imports cart
                return Cart
        """,
    })
    result = lint(tmp_path)
    assert result.returncode == 1, result.stdout
    assert "Cycle between 3 modules: shop, shop.cart, shop.prices" in result.stdout
    assert "shop.cart -> shop.prices (l.4)" in result.stdout


def test_imports_for_type_checkers_only_are_exempt(tmp_path):
    write_package(tmp_path, {
        "pyproject.toml": CONFIG,
        "shop/__init__.py": "",
        "shop/cart.py": "from .prices import price\n",
        "shop/prices.py": """
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                from .cart import Cart

            def price(cart: "Cart") -> int:
                return 0
        """,
    })
    result = lint(tmp_path)
    assert result.returncode == 0, result.stdout


def test_a_plugin_reaching_into_the_hubs_own_modules_breaks_the_public_api_contract(tmp_path):
    # A third party's plugin checked as the first-party ones are: only axhub, its
    # namespaces, axhub.sandbox and axhub.testing.
    write_package(tmp_path, {
        "pyproject.toml": """\
            [tool.importlinter]
            root_packages = ["shopcal", "axhub"]
            contract_types = ["public_api: axhub.testing.imports.PublicApiContract"]

            [[tool.importlinter.contracts]]
            name = "public api"
            type = "public_api"
            packages = ["shopcal"]
            container = "axhub"
            public = ["axhub", "axhub.oauth", "axhub.sandbox", "axhub.testing.*"]
        """,
        "shopcal/__init__.py": "from axhub import ProviderInfo, oauth, with_retries\nfrom axhub.testing.calendar import CalendarConformance\n",
        "shopcal/sandbox.py": "from axhub.sandbox import build_app\nfrom axhub.http import retry_after\n",
    })
    result = lint(tmp_path)
    assert result.returncode == 1, result.stdout
    assert "shopcal.sandbox -> axhub.http (l.2): not public" in result.stdout.replace("\n", " ")
    assert result.stdout.count("not public") == 1, result.stdout


def modules() -> list[Path]:
    found = []
    for base in [ROOT / "core" / "axhub", *sorted((ROOT / "plugins").glob("*/axhub_*"))]:
        found += [p for p in base.rglob("*.py") if "tests" not in p.parts and "migrations" not in p.parts]
    return sorted(found)


def test_every_module_is_small_and_says_what_it_holds():
    assert len(modules()) > 100
    too_long = {str(p.relative_to(ROOT)): n for p in modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not too_long, f"over {MAX_LINES} lines: split by responsibility ({too_long})"
    silent = [str(p.relative_to(ROOT)) for p in modules() if not ast.get_docstring(ast.parse(p.read_text()))]
    assert not silent, f"no docstring saying what the module holds: {silent}"


def test_the_benchmarks_import_what_exists():
    # bench/ is not run by the suite: a name moved in the core would only show when
    # someone next measures. Every ``from axhub… import name`` there must resolve.
    import importlib

    missing = []
    for script in sorted((ROOT / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("axhub"):
                module = importlib.import_module(node.module)
                missing += [f"{script.name}: {node.module}.{a.name}" for a in node.names
                            if not hasattr(module, a.name) and not _is_module(f"{node.module}.{a.name}")]
    assert not missing, missing


def _is_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
