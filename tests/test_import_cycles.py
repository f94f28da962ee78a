"""No import cycles in any of Rekam's packages: a module's imports say what it builds on, and
a cycle (even a type-only or a deferred import) hides which way that goes. The UI's screens
import the events they post and the app's Protocol, never the app or the flow that imports
them; at HQ, a piece two modules share lives below both (``hq/dialect.py``, ``hq/crl.py``)."""

from __future__ import annotations

import grimp
import pytest


@pytest.mark.parametrize("package", ["edge", "hal", "tui", "sync", "hq", "rekam"])
def test_no_module_imports_one_that_imports_it_back(package: str) -> None:
    graph = grimp.build_graph(package)
    cycles = sorted({
        tuple(sorted((a, b)))
        for a in graph.modules for b in graph.find_modules_directly_imported_by(a)
        if graph.find_shortest_chain(importer=b, imported=a)
    })
    assert cycles == [], cycles
