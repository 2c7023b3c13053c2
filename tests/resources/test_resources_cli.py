"""``greenwatch resources`` on a data directory and against a running service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenwatch.cli import main
from tests.resources import Running, serving

POOLS = """\
pools:
  - site: guian-1
    pool:
      id: burst
      class: ai
      model: nvidia-h100-sxm
      count: 64
  - site: wuhu-1
    pool:
      id: cpu-extra
      class: general
      model: amd-epyc-9654
      count: 128
      in_service: 2026-01-15
"""


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["resources", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def pools_file(tmp_path: Path) -> Path:
    path = tmp_path / "pools.yaml"
    path.write_text(POOLS, encoding="utf-8")
    return path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    with serving(tmp_path / "server") as running:
        yield running


def test_round_trip_on_a_data_directory(
    capsys: pytest.CaptureFixture[str], pools_file: Path, tmp_path: Path
) -> None:
    local = ["--data-dir", str(tmp_path / "data"), "--by", "li.wei"]
    code, out, _ = _run(capsys, "register", str(pools_file), *local)
    assert code == 0
    assert out.splitlines() == [
        "guian-1/burst: version 1 (registered)",
        "wuhu-1/cpu-extra: version 1 (registered)",
    ]
    code, out, _ = _run(capsys, "register", str(pools_file), *local)
    assert code == 0
    assert out.splitlines()[0] == "guian-1/burst: version 1 (unchanged)"
    code, out, _ = _run(capsys, "list", "--site", "guian-1", *local)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == [
        "SITE",
        "POOL",
        "CLASS",
        "MODEL",
        "COUNT",
        "PFLOPS",
        "PRECISION",
        "VERSION",
        "BY",
    ]
    # 64 x 989.4 TFLOPS FP16 = 63.3 PFLOPS
    assert rows[1].split() == [
        "guian-1",
        "burst",
        "ai",
        "nvidia-h100-sxm",
        "64",
        "63.3",
        "fp16",
        "1",
        "li.wei",
    ]
    code, out, _ = _run(capsys, "list", "--class", "general", "--hub", "yangtze-delta", *local)
    assert "cpu-extra" in out
    assert "burst" not in out
    verify = ["--site", "guian-1", "--pool", "burst", "--precision", "fp16", "--devices", "8"]
    code, out, _ = _run(
        capsys, "verify", *verify, "--benchmark", "gpu-matmul", "--measured-flops", "6.1e15",
        "--passed", "--at", "2026-03-01T10:00:00Z", *local,
    )  # fmt: skip
    assert code == 0
    assert out.strip() == (
        "guian-1/burst: gpu-matmul fp16 6.1e+15 FLOPS on 8 devices passed at "
        "2026-03-01T10:00:00+00:00"
    )
    code, out, _ = _run(capsys, "remove", "guian-1", "burst", *local)
    assert out.strip() == "guian-1/burst: removed (version 2)"
    code, out, _ = _run(capsys, "show", "guian-1", "burst", "--format", "json", *local)
    shown = json.loads(out)
    assert shown["removed"] is True
    assert [(v["version"], v["registered_by"]) for v in shown["history"]] == [
        (1, "li.wei"),
        (2, "li.wei"),
    ]


def test_a_bad_file_exits_2_naming_file_line_and_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        POOLS.replace("count: 128", "count: 0").replace("class: ai", "class: ai\n      gpus: 8"),
        encoding="utf-8",
    )
    code, out, err = _run(capsys, "register", str(bad), "--data-dir", str(tmp_path / "d"))
    assert code == 2
    assert out == ""  # nothing registered: every entry is checked first
    assert f"{bad}:6: pools[0].pool.gpus: unknown key" in err
    assert len(err.splitlines()) == 2
    assert f"{bad}:14: pools[1].pool.count: Input should be greater than or equal to 1" in err


def test_registry_problems_name_the_line_of_the_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "one.yaml"
    bad.write_text(
        "site: guian-1\npool:\n  id: burst\n  class: ai\n  model: nvidia-b999\n  count: 8\n",
        encoding="utf-8",
    )
    code, _, err = _run(capsys, "register", str(bad), "--data-dir", str(tmp_path / "d"))
    assert code == 2
    assert f"{bad}:5: pool.model: unknown device model 'nvidia-b999'" in err


def test_against_a_running_service(
    capsys: pytest.CaptureFixture[str], pools_file: Path, server: Running, tmp_path: Path
) -> None:
    def remote(scope: str) -> list[str]:
        return ["--url", server.url, "--token", server.tokens[scope]]

    code, _, err = _run(capsys, "register", str(pools_file), *remote("write"))
    assert code == 2
    assert "HTTP 403" in err
    code, out, _ = _run(capsys, "register", str(pools_file), *remote("admin"))
    assert code == 0, out
    assert "guian-1/burst: version 1 (registered)" in out
    code, out, _ = _run(capsys, "list", "--format", "json", "--site", "wuhu-1", *remote("read"))
    listed = json.loads(out)["pools"]
    assert [(p["pool"]["id"], p["registered_by"]) for p in listed] == [
        ("ai", "inventory"),
        ("cpu-extra", "admin-bot"),
        ("general", "inventory"),
    ]
    code, out, _ = _run(
        capsys, "verify", "--site", "wuhu-1", "--pool", "cpu-extra", "--benchmark", "probe",
        "--precision", "fp64", "--devices", "128", "--failed", *remote("write"),
    )  # fmt: skip
    assert code == 0
    assert "probe fp64 on 128 devices failed" in out
    code, out, _ = _run(capsys, "show", "guian-1", "burst", *remote("read"))
    assert "v1  2026-03-01T12:00:00+00:00  admin-bot  count 64" in out
    bad = tmp_path / "big.yaml"
    bad.write_text(POOLS.replace("count: 64", "count: 999999"), encoding="utf-8")
    code, _, err = _run(capsys, "register", str(bad), *remote("admin"))
    assert code == 2
    assert f"{bad}:7: pools[0].pool.count: 999999 x nvidia-h100-sxm" in err
    code, _, err = _run(capsys, "show", "guian-1", "nothing", *remote("read"))
    assert code == 2
    assert "HTTP 404" in err


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("pools: []\n", ":1: pools: no pools listed"),
        ("site: guian-1\npool: {id: x}\nowner: ops\n", ":3: owner: unknown key"),
        ("site: guian-1\npool: [1, 2\n", ":3: invalid YAML"),
    ],
)
def test_malformed_files_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, problem: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    code, _, err = _run(capsys, "register", str(bad), "--data-dir", str(tmp_path / "d"))
    assert code == 2
    assert f"{bad}{problem}" in err
