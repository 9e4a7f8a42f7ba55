"""Every link in the README and the docs resolves inside the repository (a file that
exists, and a heading where the link names one), and nothing points at files beside
the repository: a clone is the whole documentation."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", ROOT / "core" / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("plugins/*/README.md")])
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|<(https?://[^>]+)>")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*|_(?=\w)|(?<=\w)_", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    body = FENCE.sub("", path.read_text())
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", body, re.M)}


def links(path: Path):
    body = FENCE.sub("", path.read_text())
    for m in LINK.finditer(body):
        yield m.group(1) or m.group(2)


def test_the_docs_exist():
    assert len(DOCS) > 10


def test_every_link_resolves_inside_the_repository():
    broken = []
    for doc in DOCS:
        for target in links(doc):
            where = f"{doc.relative_to(ROOT)} → {target}"
            if re.match(r"[a-z]+:", target):
                broken.append(f"{where} (outside the repository)")
                continue
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            if not path.is_relative_to(ROOT) or not path.exists():
                broken.append(f"{where} (no such file in the repository)")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                broken.append(f"{where} (no such heading)")
    assert broken == []


def test_nothing_points_beside_the_repository():
    outside = [f"{doc.relative_to(ROOT)}: {m.group(0)}" for doc in DOCS
               for m in re.finditer(r"(?<![\w/])(?:\.\./)*shared/(?:spec|provider-specs)\S*", doc.read_text())]
    assert outside == []
