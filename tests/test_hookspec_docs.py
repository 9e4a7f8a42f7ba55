"""docs/plugins.md documents every hook with its exact signature; this keeps them in step."""

import inspect
import re
from pathlib import Path

import axhub.hookspecs as hookspecs
from axhub.plugins import HOOKS

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


def signature(name: str) -> str:
    fn = getattr(hookspecs, name)
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    prefix = "async def" if inspect.iscoroutinefunction(fn) else "def"
    return f"{prefix} {name}({params}) -> {sig.return_annotation}"


def documented() -> dict[str, str]:
    found = {}
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S):
        for line in block.splitlines():
            m = re.match(r"^(?:async )?def (\w+)\(.*\) -> .*$", line.strip())
            if m and m.group(1) in HOOKS:
                found.setdefault(m.group(1), line.strip().rstrip(":").rstrip(" ..."))
    return found


def test_every_hookspec_is_documented_with_its_exact_signature():
    docs = documented()
    missing = [h for h in HOOKS if h not in docs]
    assert not missing, f"hooks not documented in docs/plugins.md: {missing}"
    for hook in HOOKS:
        assert docs[hook] == signature(hook), f"docs/plugins.md has\n  {docs[hook]}\nbut the hookspec is\n  {signature(hook)}"


def test_the_hook_list_is_the_hookspecs_module():
    specs = {n for n, f in vars(hookspecs).items() if callable(f) and hasattr(f, "axhub_spec")}
    assert specs == set(HOOKS)
