"""docs/writing-a-plugin.md shows code from the files ``axhub plugin new chatter --type
communication`` writes (tests/test_plugin_template.py installs and runs those): each
block marked ``<!-- from PATH -->`` must appear, verbatim, in that generated file."""

import re
from importlib.metadata import version
from pathlib import Path

from axhub.cli.scaffold import render

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "writing-a-plugin.md").read_text()
BLOCK = re.compile(r"<!-- from (\S+) -->\n```\w*\n(.*?)```", re.S)


def test_every_quoted_block_is_in_the_generated_file():
    files = render("chatter", "communication", version("axhub"))
    blocks = BLOCK.findall(GUIDE)
    assert len(blocks) >= 8
    for path, code in blocks:
        assert path in files, f"the template writes no {path}"
        assert code in files[path], f"this block is not in the generated {path}:\n{code}"


def test_the_directory_lists_every_first_party_plugin():
    table = GUIDE.split("## First-party plugins", 1)[1]
    for plugin in sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists()):
        assert f"[{plugin}](../plugins/{plugin})" in table
