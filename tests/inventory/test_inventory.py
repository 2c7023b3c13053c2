"""Unit tests of the inventory: the built-in national network, errors that name file, line and
key, and the provincial grid emission factors."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from tests.inventory._edits import assert_one_problem, write_inventory

from greenwatch.inventory import (
    HUBS,
    Inventory,
    Region,
    SiteKind,
    great_circle_km,
    grid_factors,
    link_distance_km,
    load_inventory,
    site_grid_factor,
)
from greenwatch.model import ConfigError

CLUSTERS = {
    # cluster id prefix: hub (national-network.md, 10 clusters of the 8 hubs)
    "zhangjiakou": "jingjinji",
    "yrd-green": "yangtze-delta",
    "wuhu": "yangtze-delta",
    "shaoguan": "greater-bay",
    "tianfu": "chengyu",
    "chongqing": "chengyu",
    "horinger": "inner-mongolia",
    "guian": "guizhou",
    "qingyang": "gansu",
    "zhongwei": "ningxia",
}
WEST_HUBS = {"inner-mongolia", "guizhou", "gansu", "ningxia"}
SUPERCOMPUTING = {
    f"sc-{city}"
    for city in (
        "tianjin",
        "jinan",
        "wuxi",
        "kunshan",
        "shenzhen",
        "guangzhou",
        "changsha",
        "chengdu",
        "zhengzhou",
        "xian",
        "taiyuan",
        "wenchang",
        "chongqing",
        "wuzhen",
    )
}


@pytest.fixture(scope="module")
def national() -> Inventory:
    return load_inventory()


# --- the built-in national network -----------------------------------------------------------


def test_builtin_loads_with_enough_sites_and_links(national: Inventory) -> None:
    assert len(national.sites) >= 35
    assert len(national.links) >= 50
    assert load_inventory("national") == national


def test_every_cluster_is_present_under_its_hub(national: Inventory) -> None:
    hub_sites = [s for s in national.sites if s.kind is SiteKind.HUB_CLUSTER]
    for prefix, hub in CLUSTERS.items():
        members = [s for s in hub_sites if s.id.startswith(f"{prefix}-")]
        assert members, f"no site of the {prefix} cluster"
        assert {s.hub for s in members} == {hub}
    assert {s.hub for s in hub_sites} == set(HUBS)


def test_hub_clusters_carry_their_group_and_targets(national: Inventory) -> None:
    for site in national.sites:
        if site.kind is not SiteKind.HUB_CLUSTER:
            assert site.hub is None, site.id
            assert site.targets.pue == 1.3, site.id
            continue
        west = site.hub in WEST_HUBS
        assert site.region is (Region.WEST if west else Region.EAST), site.id
        assert site.targets.pue == (1.2 if west else 1.25), site.id
        assert site.targets.green_energy_share == 0.8
        assert site.targets.occupancy == 0.65


def test_all_national_supercomputing_centres_present(national: Inventory) -> None:
    ids = {s.id for s in national.sites if s.kind is SiteKind.SUPERCOMPUTING}
    assert ids == SUPERCOMPUTING
    assert sum(s.kind is SiteKind.AI for s in national.sites) >= 6


def test_every_province_has_a_grid_factor(national: Inventory) -> None:
    factors = grid_factors()
    missing = {s.province for s in national.sites} - factors.keys()
    assert not missing


def test_sites_lie_in_china_and_have_sources(national: Inventory) -> None:
    for site in national.sites:
        assert 18.0 <= site.location.lat <= 54.0, site.id
        assert 73.0 <= site.location.lon <= 135.0, site.id
        assert site.source, site.id
        assert site.timezone == "Asia/Shanghai", site.id


def test_links_form_one_connected_graph(national: Inventory) -> None:
    neighbours: dict[str, set[str]] = defaultdict(set)
    for link in national.links:
        neighbours[link.a].add(link.b)
        neighbours[link.b].add(link.a)
    start = national.sites[0].id
    reached, frontier = {start}, [start]
    while frontier:
        for nxt in neighbours[frontier.pop()] - reached:
            reached.add(nxt)
            frontier.append(nxt)
    assert reached == {s.id for s in national.sites}


def test_link_ids_name_their_ends(national: Inventory) -> None:
    for link in national.links:
        assert link.id == f"{link.a}--{link.b}"


def test_link_distances_match_great_circle(national: Inventory) -> None:
    sites = {s.id: s.location for s in national.sites}
    for link in national.links:
        a, b = sites[link.a], sites[link.b]
        expected = great_circle_km(a.lat, a.lon, b.lat, b.lon)
        assert link.distance_km is not None
        # 1 km absolute slack: declared distances are rounded to whole kilometres.
        assert link.distance_km == pytest.approx(expected, rel=0.05, abs=1.0), link.id
        assert link_distance_km(national, link) == link.distance_km


def test_great_circle_golden() -> None:
    # Hand-computed on the mean sphere (R = 6371.0088 km): one degree along a meridian is
    # R * pi / 180 = 111.195 km; a quarter of the equator is R * pi / 2 = 10007.56 km.
    assert great_circle_km(30.0, 105.0, 31.0, 105.0) == pytest.approx(111.195, abs=1e-3)
    assert great_circle_km(0.0, 20.0, 0.0, 110.0) == pytest.approx(10007.56, abs=1e-2)
    assert great_circle_km(30.0, 100.0, 30.0, 100.0) == 0.0


# --- bad inventories: file, line and key ---------------------------------------------------

VALID = """\
sites:
  - id: a-1
    name: Site A
    kind: hub_cluster
    hub: guizhou
    region: west
    province: Guizhou
    location: {lat: 26.4, lon: 106.3}
    it_capacity_kw: 20000
  - id: b-1
    name: Site B
    kind: ai
    region: east
    province: Hubei
    location: {lat: 30.5, lon: 114.4}
    it_capacity_kw: 10000
links:
  - id: a-1--b-1
    a: a-1
    b: b-1
    capacity_bps: 4.0e+11
"""


def test_minimal_inventory_is_valid(tmp_path: Path) -> None:
    inv = load_inventory(write_inventory(tmp_path, VALID))
    assert [s.id for s in inv.sites] == ["a-1", "b-1"]
    assert inv.links[0].capacity_bps == 4.0e11
    assert link_distance_km(inv, inv.links[0]) == pytest.approx(
        great_circle_km(26.4, 106.3, 30.5, 114.4)
    )


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "message"),
    [
        pytest.param(
            "    province: Hubei\n",
            "    province: Hubei\n    colour: red\n",
            15,
            "sites[1].colour",
            "unknown key",
            id="unknown-key",
        ),
        pytest.param(
            "  - id: b-1\n",
            "  - id: a-1\n",
            10,
            "sites[1].id",
            "duplicate site id 'a-1'",
            id="duplicate-site-id",
        ),
        pytest.param(
            "    b: b-1\n",
            "    b: c-9\n",
            20,
            "links[0].b",
            "unknown site 'c-9'",
            id="link-to-unknown-site",
        ),
        pytest.param(
            "{lat: 30.5, lon: 114.4}",
            "{lat: 95, lon: 114.4}",
            15,
            "sites[1].location.lat",
            "less than or equal to 90",
            id="lat-out-of-range",
        ),
        pytest.param(
            "    region: east\n",
            "    region: east\n    region: west\n",
            14,
            "sites[1].region",
            "duplicate key",
            id="duplicate-yaml-key",
        ),
        pytest.param(
            "    it_capacity_kw: 10000\n",
            "    it_capacity_kw: lots\n",
            16,
            "sites[1].it_capacity_kw",
            "valid number",
            id="wrong-type",
        ),
        pytest.param(
            "    hub: guizhou\n",
            "    hub: tibet\n",
            5,
            "sites[0].hub",
            "unknown hub 'tibet'",
            id="unknown-hub",
        ),
        pytest.param(
            "sites:\n",
            "sitez:\n",
            1,
            "sitez",
            "unknown key",
            id="unknown-top-level-key",
        ),
    ],
)
def test_bad_inventory_names_file_line_and_key(
    tmp_path: Path, *, old: str, new: str, line: int, key: str, message: str
) -> None:
    assert_one_problem(tmp_path, VALID, (old, new), line, key, message)


def test_invalid_yaml_syntax_names_line(tmp_path: Path) -> None:
    path = write_inventory(tmp_path, VALID.replace("    name: Site B\n", "    name: Site: B\n"))
    with pytest.raises(ConfigError) as caught:
        load_inventory(path)
    assert caught.value.problems == [(11, "", "invalid YAML: mapping values are not allowed here")]
    assert str(caught.value).startswith(f"{path}:11: invalid YAML")


def test_cross_checks_run_once_the_document_parses(tmp_path: Path) -> None:
    text = VALID.replace("lat: 26.4", "lat: -91").replace("    b: b-1\n", "    b: c-9\n")
    with pytest.raises(ConfigError) as caught:
        load_inventory(write_inventory(tmp_path, text))
    assert [(p[0], p[1]) for p in caught.value.problems] == [(8, "sites[0].location.lat")]
    # Cross-record checks run only on a document that parsed; fixing the first error reveals them.
    with pytest.raises(ConfigError) as caught:
        load_inventory(write_inventory(tmp_path, text.replace("lat: -91", "lat: 26.4")))
    assert [(p[0], p[1]) for p in caught.value.problems] == [(20, "links[0].b")]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError, match="cannot read") as caught:
        load_inventory(path)
    assert caught.value.source == str(path)


# --- grid emission factors -------------------------------------------------------------------


def test_sichuan_site_uses_provincial_factor(national: Inventory) -> None:
    site = next(s for s in national.sites if s.province == "Sichuan")
    factor = site_grid_factor(site, grid_factors())
    assert factor.kg_per_kwh == 0.1564
    assert factor.year == 2023
    assert "No. 47" in factor.source


def test_site_override_wins(national: Inventory) -> None:
    site = next(s for s in national.sites if s.province == "Sichuan")
    override = site.model_copy(update={"grid_factor_kg_per_kwh": 0.05})
    factor = site_grid_factor(override, grid_factors())
    assert factor.kg_per_kwh == 0.05
    assert site.id in factor.source


def test_unknown_province_falls_back_to_national(national: Inventory) -> None:
    # Tibet is not in the MEE/NBS 2023 provincial table.
    site = national.sites[0].model_copy(update={"province": "Tibet"})
    factor = site_grid_factor(site, grid_factors())
    assert (factor.kg_per_kwh, factor.year) == (0.5306, 2023)
    assert "fallback" in factor.source


def test_builtin_factors_cover_the_provincial_table() -> None:
    factors = grid_factors()
    assert len(factors) == 30
    assert factors["Inner Mongolia"].kg_per_kwh == 0.6479
    assert factors["Yunnan"].kg_per_kwh == 0.1333
    assert "Tibet" not in factors


def test_grid_factor_csv_override(tmp_path: Path, national: Inventory) -> None:
    path = tmp_path / "factors.csv"
    path.write_text(
        "province,kgco2_per_kwh,year,source\nSichuan,0.2,2024,own estimate\nGuizhou,0.5,2024,\n",
        encoding="utf-8",
    )
    factors = grid_factors(path)
    assert set(factors) == {"Sichuan", "Guizhou"}
    site = next(s for s in national.sites if s.province == "Sichuan")
    assert site_grid_factor(site, factors).kg_per_kwh == 0.2
    assert factors["Sichuan"].source == "own estimate"
    # An empty source column falls back to the file the factor came from.
    assert (factors["Guizhou"].year, factors["Guizhou"].source) == (2024, str(path))


@pytest.mark.parametrize(
    "bad_row",
    ["Gansu,heavy,2023,x", "Gansu,0.45,twenty,x", "Gansu"],
    ids=["bad-factor", "bad-year", "short-row"],
)
def test_bad_grid_factor_row_names_line(tmp_path: Path, bad_row: str) -> None:
    path = tmp_path / "factors.csv"
    path.write_text(
        f"province,kgco2_per_kwh,year,source\nSichuan,0.2,2024,x\n{bad_row}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        grid_factors(path)
    assert caught.value.source == str(path)
    assert [p[0] for p in caught.value.problems] == [3]
    assert str(caught.value).startswith(f"{path}:3: bad grid factor row")
