"""Every exported rule has its input series in every documented deployment, and fires there.

Breaching data for each rule of ``greenwatch alerts export`` goes in the documented way, then a
real rule evaluator runs the exported file against a real Alertmanager:

- **Prometheus scraping greenwatch**: samples are written to ``greenwatch serve`` (InfluxDB
  write API); Prometheus 2.42 scrapes ``/metrics/samples`` as ``deploy/prometheus/prometheus.yml``
  says and evaluates ``greenwatch-alerts.yml``;
- **the compose stack**: VictoriaMetrics scrapes the same page as
  ``deploy/victoriametrics/scrape.yml`` says, vmalert evaluates the vmalert export;
- **VictoriaMetrics as store**: greenwatch's ``VictoriaMetricsStore`` writes the samples,
  vmalert evaluates the vmalert export.

Each rule's expression must return series from the evaluator's data source, and each alert must
be listed by Alertmanager. ``for`` is set to 0 in the copy the evaluators load: what is checked
is the input, not Prometheus's pending state. Times follow the real clock (the evaluators do).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

from greenwatch.alerts import AlertEngine, load_rules, prometheus_rules
from greenwatch.export import ExportSettings
from greenwatch.ingest import encode_lines
from greenwatch.inventory import Inventory, load_inventory
from greenwatch.model import make_batch
from greenwatch.service import Service
from greenwatch.service._auth import TokenStore
from greenwatch.store import DuckDBStore, VictoriaMetricsStore
from tests.alerts import servers
from tests.conftest import daemon, free_port, need_binary
from tests.deploy.conftest import DEPLOY
from tests.export.servers import instant, victoriametrics

pytestmark = pytest.mark.integration
SITES = ("guian-1", "guian-2")
LINK = "guian-1--guian-2"
MINUTE = pd.Timedelta(minutes=1)
RECENT = 20  # minutes of recent samples: more than the longest window (15m)


def _series(metric: str, times: pd.DatetimeIndex, values: object, **labels: str) -> pd.DataFrame:
    return make_batch(times, metric, values, labels)


def breaching(now: pd.Timestamp, recent: pd.DatetimeIndex) -> pd.DataFrame:
    """Samples that break every exported rule: guian-1 silent for the 20 minutes before ``now``
    (site, network and meter), and at the ``recent`` times a failing collector, a link down,
    lossy and sending at 95 % of its capacity, a hot GPU and warm supply air."""
    silent = pd.date_range(now - 40 * MINUTE, now - 20 * MINUTE, freq="1min")
    rate = 0.95 * 1e9 / 8  # bytes per second: 95 % of a 1 Gbit/s link
    sent = (recent - recent[0]).total_seconds().to_numpy() * rate
    link = {"site": "guian-1", "link": LINK, "interface": "eth0"}
    meter = {"site": "guian-1", "meter": "facility"}
    parts = [
        _series("power_watts", silent, 5e6, **meter),
        _series("energy_joules_total", silent, range(len(silent)), **meter),
        _series("collector_up", recent, 0.0, site="guian-2", target="bmc-1", profile="redfish"),
        _series("link_up", recent, 0.0, **link),
        _series("link_loss_ratio", recent, 0.05, site="guian-1", link=LINK),
        _series("link_capacity_bits_per_second", recent, 1e9, **link),
        _series("link_transmit_bytes_total", recent, sent, **link),
        _series("temperature_celsius", recent, 91.0, site="guian-2", sensor="gpu0"),
        _series("temperature_celsius", recent, 30.0, site="guian-2", sensor="supply_air"),
    ]
    return pd.concat(parts, ignore_index=True)


def exported(flavour: str, tmp: Path) -> tuple[Path, dict[str, str]]:
    """The shipped pack's export with ``for: 0``; and each alert's expression."""
    doc = yaml.safe_load(prometheus_rules(load_rules(), "1s", flavour=flavour).text)
    exprs = {}
    for group in doc["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            rule.pop("for", None)
            rule.pop("keep_firing_for", None)
            exprs[rule["alert"]] = rule["expr"]
    path = tmp / f"{flavour}-rules.yml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path, exprs


def _inventory() -> Inventory:
    national = load_inventory()
    return Inventory(
        sites=tuple(s for s in national.sites if s.id in SITES),
        links=tuple(lk for lk in national.links if lk.a in SITES and lk.b in SITES),
    )


@contextmanager
def greenwatch(tmp: Path) -> Iterator[tuple[Service, str]]:
    """``greenwatch serve`` on the real clock, and a write token."""
    token = TokenStore.for_data_dir(tmp).create(["write"], "test", sites=SITES)
    service = Service(
        DuckDBStore(tmp / "greenwatch.duckdb"),
        _inventory(),
        port=free_port(),
        data_dir=tmp,
        export=ExportSettings(refresh_s=3600),
    )
    service.start()
    try:
        yield service, token
    finally:
        service.stop()


def write(service: Service, token: str, batch: pd.DataFrame) -> None:
    """Through the InfluxDB write API, as Telegraf or the agent would; then refresh the page."""
    answer = httpx.post(
        f"{service.url.rstrip('/')}/api/v2/write",
        params={"bucket": "b", "precision": "ms"},
        content="\n".join(encode_lines(batch, precision="ms")).encode(),
        headers={"Authorization": f"Token {token}"},
        timeout=30,
    )
    assert answer.status_code == 204, answer.text
    service.exports.refresh()


@contextmanager
def alertmanager(tmp: Path) -> Iterator[servers.Alertmanager]:
    yield from servers.alertmanager_server(tmp)


def _until(check: Any, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.25)


def assert_every_rule_fires(
    query_url: str, exprs: dict[str, str], am: servers.Alertmanager
) -> None:
    """Each expression returns series from ``query_url``; each alert reaches Alertmanager."""
    _until(
        lambda: all(instant(query_url, e) for e in exprs.values()),
        f"no series: {[a for a, e in exprs.items() if not instant(query_url, e)]}",
    )

    def arrived() -> set[str]:
        return {a["labels"]["alertname"] for a in am.alerts()}

    _until(lambda: arrived() >= set(exprs), f"missing at Alertmanager: {set(exprs) - arrived()}")


def _label_sets(alerts: Iterable[dict[str, str]]) -> set[frozenset[tuple[str, str]]]:
    return {frozenset(labels.items()) for labels in alerts}


def assert_one_label_set(engine: AlertEngine, names: set[str], am: servers.Alertmanager) -> None:
    """greenwatch's engine, over the same samples, gives each exported alert the label set
    Prometheus or vmalert sent; Alertmanager, receiving the engine's too, holds each alert once."""
    engine.evaluate()
    mine = [r.labels for r in engine.records.values() if r.alertname in names]
    theirs = [a["labels"] for a in am.alerts()]
    assert {r["alertname"] for r in mine} == names
    assert _label_sets(mine) == _label_sets(theirs)
    posted = [{"labels": labels, "annotations": {}} for labels in mine]
    httpx.post(f"{am.url}/api/v2/alerts", json=posted, timeout=5).raise_for_status()
    after = am.alerts()
    assert len(after) == len(theirs)
    assert len({a["fingerprint"] for a in after}) == len(after)


def vmalert(rules: Path, datasource: str, am: str, tmp: Path) -> Any:
    port = free_port()
    args = [
        need_binary("vmalert"),
        f"-rule={rules}",
        f"-datasource.url={datasource}",
        f"-notifier.url={am}",
        "-evaluationInterval=1s",
        "-disableAlertgroupLabel",
        f"-httpListenAddr=127.0.0.1:{port}",
        "-loggerLevel=WARN",
    ]
    return daemon(args, tmp / "vmalert.log", f"http://127.0.0.1:{port}/-/healthy")


def _scrape_config(path: str, target: str) -> dict[str, Any]:
    """A shipped scrape config aimed at ``target`` and scraping every second."""
    doc = yaml.safe_load((DEPLOY / path).read_text(encoding="utf-8"))
    for job in doc["scrape_configs"]:
        job["scrape_interval"] = job["scrape_timeout"] = "1s"
        for static in job["static_configs"]:
            static["targets"] = [target]
    return doc


def _write_minute_by_minute(service: Service, token: str, now: pd.Timestamp, url: str) -> None:
    """The recent samples as they would arrive, one a minute for 20 minutes, each scraped
    before the next (a scraper keeps one sample per series and scrape; a rate over 15 minutes
    needs them all). Their times count back from the real time of each write, so the last is
    fresh when the evaluator runs however long the writes took."""
    times: list[pd.Timestamp] = []
    for k in range(RECENT):
        times.append(pd.Timestamp.now(tz="UTC").floor("s") - (RECENT - 1 - k) * MINUTE)
        write(service, token, breaching(now, pd.DatetimeIndex(times)))

        def scraped(samples: int = k + 1) -> bool:
            found = instant(url, "count_over_time(link_transmit_bytes_total[30m])")
            return bool(found) and int(found[0]["value"][1]) >= samples

        _until(scraped, f"the scraper did not get sample {k + 1} of the link")


def test_prometheus_scraping_greenwatch(tmp_path: Path) -> None:
    binary = need_binary("prometheus")
    now = pd.Timestamp.now(tz="UTC").floor("s")
    rules, exprs = exported("prometheus", tmp_path)
    with greenwatch(tmp_path / "gw") as (service, token), alertmanager(tmp_path) as am:
        config = _scrape_config("prometheus/prometheus.yml", f"127.0.0.1:{service.http.port}")
        config["global"].update(scrape_interval="1s", evaluation_interval="1s")
        config["rule_files"] = [str(rules)]
        config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
            am.url.removeprefix("http://")
        ]
        path = tmp_path / "prometheus.yml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        args = [
            binary,
            f"--config.file={path}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        with daemon(args, tmp_path / "prometheus.log", f"{url}/-/ready"):
            _write_minute_by_minute(service, token, now, url)
            assert_every_rule_fires(url, exprs, am)
            assert service.alerts is not None
            assert_one_label_set(service.alerts, set(exprs), am)


def test_the_compose_topology(tmp_path: Path) -> None:
    """VictoriaMetrics scraping greenwatch (deploy/victoriametrics/scrape.yml), vmalert."""
    binary = need_binary("victoria-metrics")
    now = pd.Timestamp.now(tz="UTC").floor("s")
    rules, exprs = exported("vmalert", tmp_path)
    with greenwatch(tmp_path / "gw") as (service, token), alertmanager(tmp_path) as am:
        scrape = tmp_path / "scrape.yml"
        config = _scrape_config("victoriametrics/scrape.yml", f"127.0.0.1:{service.http.port}")
        scrape.write_text(yaml.safe_dump(config), encoding="utf-8")
        port = free_port()
        vm = f"http://127.0.0.1:{port}"
        args = [
            binary,
            f"-storageDataPath={tmp_path / 'vm-data'}",
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-promscrape.config={scrape}",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=WARN",
        ]
        with daemon(args, tmp_path / "vm.log", f"{vm}/health"):
            _write_minute_by_minute(service, token, now, vm)
            with vmalert(rules, vm, am.url, tmp_path):
                assert_every_rule_fires(vm, exprs, am)
                assert service.alerts is not None
                assert_one_label_set(service.alerts, set(exprs), am)


def test_victoriametrics_as_the_store(tmp_path: Path) -> None:
    binary = need_binary("victoria-metrics")
    now = pd.Timestamp.now(tz="UTC").floor("s")
    rules, exprs = exported("vmalert", tmp_path)
    with victoriametrics(binary, tmp_path) as vm, alertmanager(tmp_path) as am:
        store = VictoriaMetricsStore(vm)
        try:
            recent = pd.date_range(end=now, periods=RECENT, freq="1min")
            assert store.write(breaching(now, recent)) > 0
        finally:
            store.close()
        with vmalert(rules, vm, am.url, tmp_path):
            assert_every_rule_fires(vm, exprs, am)
