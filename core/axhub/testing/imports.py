"""An import-linter contract that forbids import cycles between modules, for the hub's
own tree and any plugin author's: ``type = acyclic_modules`` once registered with
``contract_types = acyclic_modules: axhub.testing.imports.AcyclicModulesContract``.

import-linter's own ``acyclic_siblings`` looks at siblings only, so a module that
imports its own package's ``__init__`` while that ``__init__`` imports it back passes
it; this contract sees every module as a node. Imports inside functions count like the
others (grimp finds them); set ``exclude_type_checking_imports`` in the top-level
options to exempt ``if TYPE_CHECKING:`` imports.
"""

from __future__ import annotations

import grimp
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """The cycles of a directed graph: its strongly connected components of more than
    one node, each sorted, in a stable order. Iterative Tarjan (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


class AcyclicModulesContract(Contract):
    """No module of ``packages`` (each package and all its descendants) takes part in
    an import cycle with another of them."""

    type_name = "acyclic_modules"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        modules: set[str] = set()
        for package in self.packages:  # type: ignore[attr-defined]
            modules |= {package, *graph.find_descendants(package)}
        edges = {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}
        cycles = []
        for component in strongly_connected(edges):
            members = set(component)
            imports = []
            for importer in component:
                for imported in sorted(edges[importer] & members):
                    lines = sorted(d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported))
                    imports.append((importer, imported, lines))
            cycles.append({"modules": component, "imports": imports})
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(f"Cycle between {len(cycle['modules'])} modules: {', '.join(cycle['modules'])}",
                               bold=True)
            for importer, imported, lines in cycle["imports"]:
                where = ", ".join(f"l.{n}" for n in lines)
                output.indent_cursor()
                output.print_error(f"{importer} -> {imported} ({where})")
            output.new_line()


class PublicApiContract(Contract):
    """The modules of ``packages`` import from ``container`` only the ``public``
    modules (``axhub``, ``axhub.sandbox``, ``axhub.testing`` and what is under the last):
    a plugin that reached into the hub's own modules would break on any release.

    ``public`` entries ending in ``.*`` admit the package and everything under it."""

    type_name = "public_api"

    packages = fields.ListField(subfield=fields.StringField())
    container = fields.StringField()
    public = fields.ListField(subfield=fields.StringField())

    def _admits(self, module: str) -> bool:
        for entry in self.public:  # type: ignore[attr-defined]
            if entry.endswith(".*") and (module == entry[:-2] or module.startswith(entry[:-1])):
                return True
            if module == entry:
                return True
        return False

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        container = self.container  # type: ignore[attr-defined]
        reached = []
        for package in self.packages:  # type: ignore[attr-defined]
            for importer in sorted({package, *graph.find_descendants(package)}):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    inside = imported == container or imported.startswith(container + ".")
                    if inside and not self._admits(imported):
                        lines = sorted(d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported))
                        reached.append((importer, imported, lines))
        return ContractCheck(kept=not reached, metadata={"reached": reached})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported, lines in check.metadata["reached"]:
            where = ", ".join(f"l.{n}" for n in lines)
            output.print_error(f"{importer} -> {imported} ({where}): not public; import it from axhub", bold=True)
