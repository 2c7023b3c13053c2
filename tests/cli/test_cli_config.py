"""``serve --config FILE`` and ``rollup --config FILE``: the command's options as YAML keys,
the command line winning; a key that is no option is named with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import free_port

from greenwatch.cli import main


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "serve.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_store_keys_come_from_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    config = write(tmp_path, f"store: victoriametrics\nstore-write-url: {dead}\n")
    code = main(["serve", "--config", str(config), "--data-dir", str(tmp_path / "d")])
    assert code == 1  # the engine named in the file was asked, and is not there
    assert dead in capsys.readouterr().err


def test_the_command_line_wins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = (f"http://127.0.0.1:{free_port()}" for _ in range(2))
    config = write(tmp_path, f"store: victoriametrics\nstore_write_url: {first}\n")
    code = main(
        ["serve", "--config", str(config), "--store-write-url", second, "--data-dir", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert second in err
    assert first not in err


def test_rollup_takes_a_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    config = write(tmp_path, f"store-write-url: {dead}\nshard: 0/2\nonce: true\n")
    assert main(["rollup", "--config", str(config)]) == 1
    assert dead in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        ("store: victoriametrics\nstore-wrte-url: x\n", 2, "store-wrte-url", "--store-write-url"),
        ("port: 8051\nstroe: victoriametrics\n", 2, "stroe", "--store"),
        ("unknown-sites: true\n", 1, "unknown-sites", "one of refuse, quarantine"),
        ("port: eighty\n", 1, "port", "eighty"),
        ("role: ingest,dashboard\n", 1, "role", "ingest, ui, jobs"),
        ("metrics-token: maybe\n", 1, "metrics-token", "true or false"),
        ("config: other.yaml\n", 1, "config", "not an option"),
    ],
)
def test_bad_keys_are_named_with_file_and_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    line: int,
    key: str,
    message: str,
) -> None:
    config = write(tmp_path, text)
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}:{line}: {key}: " in err
    assert message in err
    assert "Traceback" not in err
