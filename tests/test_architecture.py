"""The one-way flow of DESIGN.md, enforced: a module imports only stages to its left.

collect → ingest → store → metrics → {alerts, reports, export} → dashboard; ``model`` and
``inventory`` are the shared model; ``resources`` (the compute-pool registry, beside ``store``)
imports only them; ``service`` and ``cli`` wire everything. ``metrics`` is pure: it imports only
the shared model.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "greenwatch"

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
    "testing": 8.5,  # fakes for users' tests: alerts' notifier contract, the embedded store
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


def _is_private(module: str, own: str) -> bool:
    parts = module.split(".")
    return parts[0] == "greenwatch" and len(parts) > 2 and parts[1] != own and parts[2][0] == "_"


def _private_imports(path: Path, own: str) -> list[tuple[int, str]]:
    """``(line, module)`` of each import of another package's private module in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        private = [m for m in modules if _is_private(m, own)]
        if private:
            found.append((node.lineno, private[0]))
    return found


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_import_of_another_packages_private_module(path: Path) -> None:
    own = path.relative_to(SRC).parts[0].removesuffix(".py")
    found = _private_imports(path, own)
    assert not found, f"{path.relative_to(SRC)} reaches into private modules: {found}"


def test_the_checker_catches_a_private_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from greenwatch.collect._profile import Rule\nfrom greenwatch.service import _auth\n",
        encoding="utf-8",
    )
    assert _private_imports(bad, "ingest") == [
        (1, "greenwatch.collect._profile"),
        (2, "greenwatch.service._auth"),
    ]
    assert _private_imports(bad, "collect") == [(2, "greenwatch.service._auth")]


PACKAGES = sorted(
    {p.parent.name for p in SRC.glob("*/__init__.py")} | {p.stem for p in SRC.glob("[!_]*.py")}
)
# The public faces together (361 names before they were cut to what is used: 335); a new name
# must earn its place (someone outside its package uses it). 341: reports.PdfWorker (cli, service).
FACE_BUDGET = 341
# Exported although nothing in the tree imports them: what plugin authors implement or
# subclass (protocols, base classes), the registry's own types, and types that callers of the
# public functions name (a rule, a page, a device, a verification record, a parse error).
FOR_AUTHORS = {
    "agent": {"MatmulBackend"},
    "alerts": {"Notifier", "Rule"},
    "collect": {"ProfileBase"},
    "dashboard": {"Page"},
    "ingest": {"LineError"},
    "inventory": {"Device"},
    "metrics": {"METER_ENERGY_COLUMNS", "SITE_TOTAL_COLUMNS"},
    "model": {"MetricKind", "MetricSpec"},
    "resources": {"Verification"},
}


def _face(package: str) -> list[str]:
    return list(getattr(importlib.import_module(f"greenwatch.{package}"), "__all__", []))


def _names_used(tree: ast.AST, own: str | None) -> list[tuple[str, str]]:
    """``(package, name)`` taken from another package's face: ``from greenwatch.pkg import
    name``, or ``pkg.name`` after ``from greenwatch import pkg``."""
    found: list[tuple[str, str]] = []
    modules: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts == ["greenwatch"]:
                modules.update({a.asname or a.name: a.name for a in node.names})
            elif parts[0] == "greenwatch" and len(parts) == 2:
                found += [(parts[1], a.name) for a in node.names]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append((modules[node.value.id], node.attr))
    return [(package, name) for package, name in found if package != own]


def _used_from_outside() -> dict[str, set[str]]:
    """Names each package's face gives to modules outside it (src, tests, bench)."""
    used: dict[str, set[str]] = {}
    for base in ("src", "tests", "bench"):
        for path in (ROOT / base).rglob("*.py"):
            own = path.relative_to(SRC).parts[0] if path.is_relative_to(SRC) else None
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for package, name in _names_used(tree, own):
                used.setdefault(package, set()).add(name)
    return used


def test_public_faces_stay_small() -> None:
    size = sum(len(_face(p)) for p in PACKAGES)
    assert size <= FACE_BUDGET, f"{size} exported names, over the budget of {FACE_BUDGET}"


def test_every_exported_name_is_used_outside_its_package() -> None:
    used = _used_from_outside()
    idle = {
        p: sorted(set(_face(p)) - used.get(p, set()) - FOR_AUTHORS.get(p, set())) for p in PACKAGES
    }
    assert not {p: names for p, names in idle.items() if names}


MAX_FUNCTION_LINES = 80  # registration functions included: split them by route group


def _long_functions(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} {length}")
    return found


def test_no_function_is_longer_than_a_screenful() -> None:
    assert _long_functions(SRC) == []


def test_the_length_checker_catches_a_long_function(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "long.py").write_text(f"def long() -> None:\n{body}", encoding="utf-8")
    assert _long_functions(tmp_path) == [f"long.py:1 long {MAX_FUNCTION_LINES + 1}"]
