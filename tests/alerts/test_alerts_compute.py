"""``compute`` rules on a real DuckDB store filled by the simulator: identify and verification.

Two sites of the network (guian-1, guian-2) for four hours from ``T0``. guian-1 registers 15,000
A800 GPUs in pool ``ai``; from 01:00 to 03:00 its collectors see one in sixteen fewer (14,062:
938 missing, 6.25 %), and from 02:00 to 02:30 its collectors are down altogether (nothing to
judge: the alert is held, not resolved). The verification records of :func:`_records`: guian-1
``ai`` failed, guian-1 ``general`` passed 100 days ago, guian-2 ``ai`` passed last week,
guian-2 ``general`` has none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from greenwatch.alerts import AlertEngine, RuleSet, load_rules, parse_rules, prometheus_rules
from greenwatch.cli import main
from greenwatch.inventory import Inventory
from greenwatch.model import ConfigError, load_yaml
from greenwatch.query import ComputeSource, declared_pools
from greenwatch.simulate import Scenario, Simulator
from greenwatch.store import DuckDBStore
from greenwatch.testing import FakeClock
from tests.alerts._network import after, replay, slice_inventory

SITES = ("guian-1", "guian-2")
MINUTE = pd.Timedelta(minutes=1)


@pytest.fixture(scope="module")
def two_sites() -> Inventory:
    return slice_inventory(SITES)


@pytest.fixture(scope="module")
def store(two_sites: Inventory) -> Iterator[DuckDBStore]:
    store = DuckDBStore(":memory:")
    incidents = [
        Scenario("device_loss", "guian-1", after(1), after(3)),
        Scenario("collector_down", "guian-1", after(2), after(2, 30)),
    ]
    sim = Simulator(two_sites, seed=3, start=after(0), scenarios=incidents)
    store.write(sim.advance(after(4)))
    yield store
    store.close()


def _records(at: pd.Timestamp) -> pd.DataFrame:
    rows = [
        ("guian-1", "ai", "hpl-mxp", "fp16", float("nan"), 15000, False, at - pd.Timedelta(days=2)),
        ("guian-1", "general", "hpl", "fp64", 1.6e17, 175000, True, at - pd.Timedelta(days=100)),
        ("guian-2", "ai", "hpl-mxp", "fp16", 2.4e18, 11608, True, at - pd.Timedelta(days=7)),
    ]
    columns = ["site", "pool", "benchmark", "precision", "measured_flops", "devices", "passed"]
    return pd.DataFrame(rows, columns=[*columns, "at"])


def _source(inventory: Inventory, at: pd.Timestamp) -> ComputeSource:
    pools = declared_pools(inventory)
    return lambda: (pools, _records(at))


def _rules(text: str) -> RuleSet:
    return parse_rules(load_yaml("rules.yaml", text))


def _pack() -> RuleSet:
    pack = load_rules()
    return RuleSet(pack.source, tuple(r for r in pack.rules if r.kind == "compute"))


def test_missing_gpus_fire_with_their_labels_and_resolve_when_they_come_back(
    store: DuckDBStore, two_sites: Inventory
) -> None:
    engine = AlertEngine(store, two_sites, _pack(), clock=FakeClock(after(0, 30)))
    try:
        run = replay(engine, after(0, 30), after(3, 30), step=5 * MINUTE)
        [fp] = {t.fingerprint for t in run.of("ComputeIdentifyMismatch")}
        steps = [(t.before, t.after, t.at) for t in run.of("ComputeIdentifyMismatch")]
        view = engine.alert(fp)
    finally:
        engine.close()
    # The 01:05 evaluation sees the 01:00 samples; firing 15 minutes later (for: 15m). Held, not
    # resolved, while the collectors are down (02:00-02:30); resolved once all 15,000 are seen.
    assert steps == [
        (None, "pending", after(1, 5)),
        ("pending", "firing", after(1, 20)),
        ("firing", "resolved", after(3, 5)),
    ]
    assert view["labels"] == {
        "alertname": "ComputeIdentifyMismatch",
        "severity": "warning",
        "site": "guian-1",
        "model": "nvidia-a800-sxm",
        "pool": "ai",
        "class": "ai",
        "hub": "guizhou",
        "region": "west",
        "kind": "hub_cluster",
        "category": "compute",
        "team": "compute",
    }
    assert view["annotations"]["summary"] == (
        "guian-1: registered 15000 x nvidia-a800-sxm (ai), collectors see 14062: 938 missing"
    )
    assert view["value"] == 938.0


@pytest.mark.parametrize(
    ("min_missing", "fires"), [("900", True), ("1000", False), ("'6%'", True), ("'7%'", False)]
)
def test_min_missing_in_devices_or_as_a_share(
    store: DuckDBStore, two_sites: Inventory, min_missing: str, fires: bool
) -> None:
    rules = _rules(
        "rules:\n  - {alert: Gone, kind: compute, condition: identify_mismatch, "
        f"min_missing: {min_missing}}}\n"
    )
    engine = AlertEngine(store, two_sites, rules)
    try:
        engine.evaluate(after(1, 30))
        firing = [a["labels"]["site"] for a in engine.alerts(after(1, 30))]
    finally:
        engine.close()
    assert firing == (["guian-1"] if fires else [])


RULES = """
rules:
  - {alert: Failed, kind: compute, condition: verification_failed}
  - {alert: Stale, kind: compute, condition: verification_stale, max_age: 90d,
     annotations: {summary: "{message}"}}
  - {alert: StaleLong, kind: compute, condition: verification_stale, max_age: 200d}
  - {alert: Never, kind: compute, condition: verification_never, match: ['class="general"']}
"""


def test_verification_alerts_one_per_pool(store: DuckDBStore, two_sites: Inventory) -> None:
    at = after(1)
    engine = AlertEngine(store, two_sites, _rules(RULES), compute=_source(two_sites, at))
    try:
        engine.evaluate(at)
        alerts = {
            (a["alertname"], a["labels"]["site"], a["labels"]["pool"]): a for a in engine.alerts(at)
        }
    finally:
        engine.close()
    assert set(alerts) == {
        ("Failed", "guian-1", "ai"),
        ("Stale", "guian-1", "general"),
        ("Never", "guian-2", "general"),
    }
    stale = alerts["Stale", "guian-1", "general"]
    assert stale["state"] == "firing"
    assert {k: stale["labels"][k] for k in ("model", "class")} == {
        "model": "huawei-kunpeng-920-6426",
        "class": "general",
    }
    assert stale["value"] == 100 * 86400
    assert stale["annotations"]["summary"] == (
        "guian-1/general (175000 x huawei-kunpeng-920-6426, general): last verified "
        "2024-10-05 (hpl), 100d ago; limit 90d"
    )


@pytest.mark.parametrize(
    ("rule", "line", "key", "message"),
    [
        ("condition: benchmarked", 4, "rules[0].condition", "identify_mismatch"),
        ("condition: verification_failed\n    min_missing: 3", 5, "rules[0].min_missing", "only"),
        ("condition: identify_mismatch\n    min_missing: five", 5, "rules[0].min_missing", "'5%'"),
        ("condition: identify_mismatch\n    min_missing: 0", 5, "rules[0].min_missing", "least 1"),
        ("condition: identify_mismatch\n    max_age: 30d", 5, "rules[0].max_age", "only"),
        ("condition: verification_stale\n    max_age: soon", 5, "rules[0].max_age", "duration"),
    ],
)
def test_check_names_file_line_and_key(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rule: str,
    line: int,
    key: str,
    message: str,
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(f"rules:\n  - alert: X\n    kind: compute\n    {rule}\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_rules(path)
    assert main(["alerts", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}: {key}: " in err
    assert message in err


def test_alerts_test_shows_the_mismatch(
    tmp_path: Path, two_sites: Inventory, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    sim = Simulator(two_sites, seed=3, start=after(0), scenarios=[_loss()])
    store = DuckDBStore(data / "greenwatch.duckdb")
    store.write(sim.advance(after(2)))
    store.close()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(two_sites.model_dump(mode="json")), encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"rules": [_pack_rule("ComputeIdentifyMismatch")]}), "utf-8")
    argv = ["alerts", "test", str(rules), "--at", str(after(1, 30)), "--data-dir", str(data)]
    assert main([*argv, "--inventory", str(inventory)]) == 0
    out = capsys.readouterr().out
    assert "FIRING   warning  ComputeIdentifyMismatch site=guian-1 hub=guizhou" in out
    assert "collectors see 14062: 938 missing" in out


def _loss() -> Scenario:
    return Scenario("device_loss", "guian-1", after(1), after(3))


def _pack_rule(alert: str) -> dict[str, object]:
    pack = Path(load_rules.__code__.co_filename).parent / "rules" / "national.yaml"
    rules = yaml.safe_load(pack.read_text(encoding="utf-8"))["rules"]
    found: dict[str, object] = next(r for r in rules if r["alert"] == alert)
    return found


def test_compute_rules_are_the_engines_not_exported() -> None:
    out = prometheus_rules(_pack())
    assert out.exported == []
    assert {why for _, why in out.skipped} == {
        "compute rules are owned by greenwatch's engine (registry and verifications)"
    }
