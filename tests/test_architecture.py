"""The one-way flow of DESIGN.md, enforced: a module imports only stages to its left.

collect → ingest → store → metrics → {alerts, reports, export} → dashboard; ``model`` and
``inventory`` are the shared model; ``resources`` (the compute-pool registry, beside ``store``)
imports only them; ``service`` and ``cli`` wire everything. ``metrics`` is pure: it imports only
the shared model.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "greenwatch"

RANK: dict[str, float] = {
    "model": 0,
    "inventory": 1,
    "simulate": 2,
    "collect": 3,
    "ingest": 4,
    "agent": 4.5,  # edge agent: collect + ingest encoding, forwards to the centre; no store
    "store": 5,
    "resources": 5,  # computing-resource registry (SQLite): model and inventory only
    "metrics": 6,
    "query": 7,
    "alerts": 8,
    "reports": 8,
    "export": 8,
    "testing": 8,
    "dashboard": 9,
    "service": 10,
    "cli": 11,
}
# Stages that may import less than everything to their left.
ONLY: dict[str, set[str]] = {"metrics": {"model", "inventory"}, "resources": {"model", "inventory"}}


def _stage(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "greenwatch" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _edges() -> list[tuple[str, str, str, int]]:
    edges = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        own = rel.parts[0].removesuffix(".py")
        if own not in RANK:
            continue
        for line, module in _imports(path):
            other = _stage(module)
            if other is not None and other != own and other in RANK:
                edges.append((own, other, str(rel), line))
    return edges


def test_every_stage_has_a_rank() -> None:
    stages = {p.name.removesuffix(".py") for p in SRC.iterdir() if not p.name.startswith("_")}
    stages -= {"py.typed", "__pycache__"}
    assert stages <= set(RANK), f"unranked stage(s): {stages - set(RANK)}"


@pytest.mark.parametrize(("importer", "imported", "where", "line"), _edges())
def test_imports_flow_one_way(importer: str, imported: str, where: str, line: int) -> None:
    allowed = ONLY.get(importer)
    if allowed is not None:
        assert imported in allowed, f"{where}:{line}: {importer} may import only {allowed}"
    assert RANK[imported] < RANK[importer], (
        f"{where}:{line}: {importer} imports {imported}, a stage to its right (back-edge)"
    )


def test_the_checker_catches_a_back_edge(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from greenwatch.dashboard import create_app\n", encoding="utf-8")
    assert _imports(bad) == [(1, "greenwatch.dashboard")]
    assert RANK["dashboard"] > RANK["store"]
