"""The ingest boundary with its defaults: a live server on the national inventory, real clock."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from greenwatch.agent import DiskBuffer, Forwarder
from greenwatch.ingest import BoundaryPolicy, InventorySites, encode_write_request
from greenwatch.inventory import load_inventory
from greenwatch.model import make_batch
from tests.browser import chromium_page, open_dashboard, screenshot
from tests.ingest.conftest import Server, start_server
from tests.ingest.test_remote_write import SNAPPY

NO_TIME = pd.Timedelta(0)
NATIONAL = resources.files("greenwatch.inventory") / "data" / "national.yaml"


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _ns(ago: pd.Timedelta = NO_TIME) -> int:
    return int((_now() - ago).value)


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[Server]:
    """The default boundary: national inventory, refuse unknown sites, 400 d / 10 min window."""
    running = start_server(
        tmp_path, inventory=load_inventory(), boundary_policy=BoundaryPolicy(), clock=_now
    )
    yield running
    running.service.stop()


def _write(server: Server, body: str | bytes) -> httpx.Response:
    with server.client("write") as client:
        return client.post("/api/v2/write", content=body)


def _metrics(server: Server) -> str:
    return httpx.get(f"{server.url}/metrics", timeout=30).text


def _refused(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 400, answer.text
    return [e["message"] for e in answer.json()["errors"]]


def test_unknown_site_is_refused_listing_the_ids(strict: Server) -> None:
    t = _ns()
    body = (
        f"power_watts,site=guian-1,meter=facility value=1000 {t}\n"
        f"power_watts,site=atlantis-1,meter=facility value=1000 {t}\n"
        f"power_watts,site=guain-1,meter=facility value=1000 {t}"
    )
    answer = _write(strict, body)
    messages = _refused(answer)
    assert answer.json()["line"] == 2
    assert "unknown site(s): atlantis-1, guain-1" in messages[0]
    assert answer.headers["X-Greenwatch-Refused-Unknown-Site"] == "2"
    assert strict.query("power_watts").empty  # the good line of the request is not stored
    assert 'greenwatch_ingest_refused_samples_total{reason="unknown_site"} 2.0' in _metrics(strict)


def test_agents_own_labels_on_canonical_metrics_are_dropped_and_counted(strict: Server) -> None:
    """Telegraf adds ``host`` and Prometheus/vmagent ``job`` and ``instance`` to every series:
    a canonical metric keeps its own labels and those are left out (counted on line protocol);
    any other label it does not take (a typo) still refuses the request."""
    t = _ns()
    answer = _write(strict, f"power_watts,site=guian-1,meter=facility,host=edge-7 value=5 {t}")
    assert answer.status_code == 204, answer.text
    assert answer.headers["X-Greenwatch-Dropped-Attributes"] == "1"
    labels = {
        "site": "guian-1",
        "meter": "it_ups_output",
        "job": "pdu",
        "instance": "10.0.0.5:9100",
    }
    body = encode_write_request([({"__name__": "power_watts", **labels}, [(t // 1_000_000, 4.0)])])
    with strict.client("write") as client:
        answer = client.post("/api/v1/write", content=body, headers=SNAPPY)
    assert answer.status_code == 204, answer.text  # a shipped profile maps it, as scraped
    stored = strict.query("power_watts").sort_values("meter")
    assert list(stored["meter"]) == ["facility", "it_ups_output"]
    assert list(stored["value"]) == [5.0, 4.0]
    assert not {"host", "job", "instance"} & set(stored.columns)
    typo = _write(strict, f"power_watts,site=guian-1,meterr=facility value=5 {t + 1}")
    assert "meterr" in _refused(typo)[0]


def test_closed_vocabularies_list_the_allowed_values(strict: Server) -> None:
    answer = _write(strict, f"power_watts,site=guian-1,meter=facilty value=1 {_ns()}")
    (message,) = _refused(answer)
    assert "meter 'facilty' is not one of: cooling, facility," in message
    answer = _write(strict, f"utilisation_ratio,site=guian-1,resource=gpus value=0.5 {_ns()}")
    assert (
        "resource 'gpus' is not one of: cpu, gpu, it_capacity, memory, storage"
        in (_refused(answer)[0])
    )


@pytest.mark.parametrize(
    ("body", "label"),
    [
        ("power_watts,site=guian-1\x1fmeter\x1eit_input,meter=facility value=1", "site"),
        ("power_watts,site=guian-1,meter=facility\x1e value=1", "meter"),
        ("ext_probe,site=guian-1,na\x00me=x value=1", "na\x00me"),
        ("power_watts,site=guian-1,meter=facility,hall=h\x7f1 value=1", "hall"),
    ],
)
def test_control_characters_in_labels_are_refused(strict: Server, body: str, label: str) -> None:
    answer = _write(strict, f"power_watts,site=guian-1,meter=cooling value=1 {_ns()}\n{body}")
    (message,) = _refused(answer)
    assert answer.json()["line"] == 2
    assert f"label {label!r}" in message
    assert "control character" in message
    assert strict.query("power_watts").empty


@pytest.mark.parametrize(
    "ts", [0, 4_102_444_800_000_000_000, "now+1h", "now-401d"], ids=["1970", "2100", "1h", "401d"]
)
def test_timestamps_outside_the_window_are_400_never_503(strict: Server, ts: object) -> None:
    if ts == "now+1h":
        ts = _ns(-pd.Timedelta(hours=1))
    elif ts == "now-401d":
        ts = _ns(pd.Timedelta(days=401))
    answer = _write(strict, f"power_watts,site=guian-1,meter=facility value=1 {ts}")
    (message,) = _refused(answer)
    assert "is outside the accepted window" in message
    assert "max_age 400 days" in message
    assert answer.headers["X-Greenwatch-Refused-Time"] == "1"


def test_an_admin_backfill_may_widen_the_window(strict: Server) -> None:
    line = f"power_watts,site=guian-1,meter=facility value=1 {_ns(pd.Timedelta(days=900))}"
    with strict.client("write") as client:
        answer = client.post("/api/v2/write", params={"max_age": "1000d"}, content=line)
    assert answer.status_code == 403
    with strict.client("admin") as client:
        answer = client.post("/api/v2/write", params={"max_age": "1000d"}, content=line)
    assert answer.status_code == 204, answer.text
    assert len(strict.query("power_watts")) == 1


def test_string_and_boolean_fields_of_canonical_metrics_are_refused(strict: Server) -> None:
    t = _ns()
    answer = _write(
        strict,
        f'power_watts,site=guian-1,meter=facility value="1000" {t}\n'
        f"link_up,site=guian-1,link=guian-1--chongqing-1 value=true {t}",
    )
    messages = _refused(answer)
    assert "field 'value' is a string; power_watts takes numbers" in messages[0]
    assert "field 'value' is a boolean; link_up takes numbers" in messages[1]
    answer = _write(strict, f'ups,site=guian-1 state="online",load=0.5 {t}')
    assert answer.status_code == 204, answer.text
    assert answer.headers["X-Greenwatch-Strings"] == "1"


def test_site_power_above_the_capacity_margin_is_refused(strict: Server) -> None:
    capacity_kw = next(s.it_capacity_kw for s in load_inventory().sites if s.id == "guian-1")
    t = _ns()
    answer = _write(
        strict,
        f"power_watts,site=guian-1,meter=facility value={capacity_kw * 2500} {t}\n"
        f"power_watts,site=guian-1,meter=facility value=5e12 {t + 1}",
    )
    (message,) = _refused(answer)
    assert answer.json()["line"] == 2
    assert "exceeds 3 × its it_capacity_kw" in message
    assert answer.headers["X-Greenwatch-Refused-Site-Power"] == "1"


def test_quarantine_holds_unknown_sites_out_and_lists_them(tmp_path: Path) -> None:
    policy = BoundaryPolicy(unknown_sites="quarantine")
    server = start_server(tmp_path, inventory=load_inventory(), boundary_policy=policy, clock=_now)
    try:
        t = _ns()
        answer = _write(
            server,
            f"power_watts,site=guian-1,meter=facility value=1000 {t}\n"
            f"power_watts,site=atlantis-1,meter=facility value=9e9 {t}\n"
            f"power_watts,site=atlantis-1,meter=it_input value=8e9 {t}",
        )
        assert answer.status_code == 204, answer.text
        assert answer.headers["X-Greenwatch-Quarantined"] == "2"
        assert answer.headers["X-Greenwatch-Stored"] == "1"
        stored = server.query("power_watts")
        assert set(stored["site"]) == {"guian-1"}
        page = _metrics(server)
        assert "greenwatch_ingest_unregistered_sources 1.0" in page
        assert 'greenwatch_ingest_flagged_samples_total{reason="quarantined"} 2.0' in page
        with server.client("read") as client:
            kpi = client.get("/api/v1/kpi", params={"level": "site"})
        assert kpi.status_code == 200, kpi.text
        assert "atlantis-1" not in kpi.text
        with chromium_page(1440, 1800) as (page_, _log):
            open_dashboard(page_, f"{server.url}/network")
            panel = page_.locator("table.unregistered")  # type: ignore[attr-defined]
            panel.wait_for(timeout=30_000)
            assert "atlantis-1" in panel.inner_text()
            panel.scroll_into_view_if_needed()
            screenshot(page_, "ingest-boundary-unregistered-sources.png")
    finally:
        server.service.stop()


def test_a_new_inventory_takes_effect_without_restart(tmp_path: Path) -> None:
    national = yaml.safe_load(NATIONAL.read_text(encoding="utf-8"))
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(national))
    server = start_server(
        tmp_path / "data",
        inventory=load_inventory(path),
        boundary_policy=BoundaryPolicy(),
        clock=_now,
        inventory_path=path,
    )
    try:
        line = f"power_watts,site=guian-9,meter=facility value=1000 {_ns()}"
        assert _write(server, line).status_code == 400
        site = next(s for s in national["sites"] if s["id"] == "guian-1")
        national["sites"].append({**site, "id": "guian-9", "name": "Gui'an Cluster DC 9"})
        path.write_text(yaml.safe_dump(national))
        deadline = time.monotonic() + 30
        while _write(server, line).status_code != 204:  # mtime has a coarse grain on some fs
            assert time.monotonic() < deadline
            path.touch()
        assert set(server.query("power_watts")["site"]) == {"guian-9"}
    finally:
        server.service.stop()


def test_real_otel_sdk_pushes_canonical_metrics_with_its_default_attributes(
    strict: Server,
) -> None:
    exporter = OTLPMetricExporter(
        endpoint=f"{strict.url}/v1/metrics",
        headers={"Authorization": f"Bearer {strict.tokens['write']}"},
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    # Resource.create adds service.name and telemetry.sdk.* as every SDK does.
    resource = Resource.create(
        {"greenwatch.site": "guian-1", "service.instance.id": "i-1", "host.name": "bmc-gw"}
    )
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("greenwatch.test")

    def facility(_: CallbackOptions) -> Iterable[Observation]:
        yield Observation(1_250_000.0, {"meter": "facility", "net.peer.name": "ups-1"})

    meter.create_observable_gauge("power_watts", [facility], unit="W")
    energy = meter.create_counter("energy_joules_total", unit="J")
    energy.add(3.6e9, {"meter": "it_input"})
    meter.create_observable_gauge(
        "hw.power", [lambda _: [Observation(412.5, {"hw.id": "gpu-0", "hw.type": "gpu"})]]
    )
    assert reader.force_flush(10_000)
    provider.shutdown()

    power = strict.query("power_watts")
    assert set(power["value"]) == {1_250_000.0}
    assert set(power.columns) == {"ts", "metric", "value", "site", "meter"}
    assert set(power["site"]) == {"guian-1"}
    energy_rows = strict.query("energy_joules_total")
    assert set(energy_rows["value"]) == {3.6e9}
    assert set(energy_rows["meter"]) == {"it_input"}
    gpu = strict.query("device_power_watts")
    assert set(gpu["device"]) == {"gpu-0"}
    assert set(gpu["device_kind"]) == {"gpu"}
    page = _metrics(strict)
    dropped = [
        line
        for line in page.splitlines()
        if line.startswith('greenwatch_ingest_flagged_samples_total{reason="dropped_attributes"}')
    ]
    assert dropped
    assert float(dropped[0].split()[-1]) >= 2


def test_the_agent_drops_a_refused_batch_with_a_log(
    strict: Server, caplog: pytest.LogCaptureFixture
) -> None:
    buffer = DiskBuffer(strict.data_dir / "agent.sqlite")
    forwarder = Forwarder(buffer, strict.url, strict.tokens["write"])
    labels = {"site": "guian-1", "meter": "facility"}
    try:
        buffer.put(make_batch(pd.Timestamp(0, tz="UTC"), "power_watts", [1.0], labels))
        buffer.put(make_batch(_now().floor("s"), "power_watts", [2.0], labels))
        assert forwarder.drain_once()
        assert forwarder.drain_once()
        assert forwarder.drain_once()
        assert forwarder.rejected_samples == 1
        assert forwarder.sent_samples == 1
        assert buffer.oldest() is None
        assert "outside the accepted window" in caplog.text
        assert list(strict.query("power_watts")["value"]) == [2.0]
    finally:
        forwarder.stop(0)
        buffer.close()


def test_an_inventory_file_that_does_not_load_keeps_the_previous_one(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(NATIONAL.read_text(encoding="utf-8"))
    sites = InventorySites(load_inventory(path), path)
    assert "guian-1" in sites()
    path.write_text("sites: [{id: Not An Id}]\n")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert "guian-1" in sites()
    assert sites.last_error is not None
    assert "inventory.yaml" in sites.last_error
