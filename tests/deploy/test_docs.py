"""deploy/'s documents: every file is checked by a test, links and listed paths exist."""

from __future__ import annotations

import re

import pytest

from tests.deploy.conftest import CHECKED, DEPLOY, deploy_files, read

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_every_deploy_file_is_checked() -> None:
    assert deploy_files() == sorted(CHECKED), "register new deploy/ files in tests/deploy/conftest"


@pytest.mark.parametrize("doc", ["README.md", "scale-out.md"])
def test_relative_links_resolve(doc: str) -> None:
    for target in LINK.findall(read(doc)):
        if "://" in target:
            continue
        assert (DEPLOY / target).resolve().exists(), f"{doc}: broken link {target}"


def test_the_readme_lists_every_file_that_exists() -> None:
    files_table = read("README.md").split("\n## ")[0]
    listed = re.findall(r"^\| `([^`]+)` \|", files_table, flags=re.MULTILINE)
    assert listed
    for path in listed:
        assert (DEPLOY / path).exists(), f"README.md lists {path}, which does not exist"
    documented = {p for p in CHECKED if not p.endswith((".md", ".gitignore", ".test.yml"))}
    assert documented <= {p for p in CHECKED if any(p.startswith(x) for x in listed)}
