"""``greenwatch collect``: try a profile against a device, check a profile, list profiles.

``--once`` polls one target and prints its batch, so an operator sees what a profile makes of
a device before deploying it. The target is a name in a targets file (``--targets FILE``) or
given inline: a URL for HTTP families, ``host[:port]`` for the others, with ``--site`` and
optional labels and credentials. Exit 0 on success, 1 when the poll fails (the health reason
is printed), 2 on a bad profile or target (file, line and key named).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import pandas as pd

from greenwatch.cli._common import say
from greenwatch.collect import (
    CollectorError,
    Target,
    build_collector,
    check_profile,
    load_profile,
    load_targets,
    shipped_profiles,
)
from greenwatch.model import ConfigError, label_columns

EXIT_POLL_FAILED = 1


def _inline_target(args: argparse.Namespace) -> dict[str, Any]:
    """A target spec from ``--target URL|HOST[:PORT]`` and the inline options."""
    text: str = args.target
    spec: dict[str, Any] = {"site": args.site, "timeout_s": args.timeout}
    if text.startswith(("http://", "https://")):
        spec["url"] = text
        default_name = text.split("://", 1)[1].split("/", 1)[0]
    else:
        spec["address"] = text
        default_name = text
    spec["name"] = args.name or default_name
    if args.label:
        spec["labels"] = dict(args.label)
    if args.device_id is not None:
        spec["device_id"] = args.device_id
    if args.peer:
        spec["peers"] = [{"link": link, "address": address} for link, address in args.peer]
    if args.insecure:
        spec["verify_tls"] = False
    creds: dict[str, Any] = {}
    if args.username:
        creds["username"] = args.username
    if args.password_env or args.password_file:
        creds["password"] = (
            {"env": args.password_env} if args.password_env else {"file": args.password_file}
        )
        creds["method"] = args.auth
    if args.community_env:
        creds["community"] = {"env": args.community_env}
    if creds:
        spec["credentials"] = creds
    return spec


def _target(args: argparse.Namespace) -> tuple[Target | dict[str, Any], str | None]:
    """The target to poll and the profile its targets-file entry names (if any)."""
    if args.targets is None:
        if args.site is None:
            raise ConfigError("--target", [(None, "--site", "required for an inline target")])
        return _inline_target(args), None
    targets = {t.name: t for t in load_targets(args.targets)}
    found = targets.get(args.target)
    if found is None:
        known = ", ".join(sorted(targets)[:20])
        raise ConfigError(
            str(args.targets), [(None, "targets", f"no target {args.target!r} (known: {known})")]
        )
    return found, found.profile


def _samples(batch: pd.DataFrame) -> list[dict[str, Any]]:
    labels = label_columns(batch)
    out = []
    for row in batch.astype(dict.fromkeys(labels, object)).to_dict("records"):
        out.append(
            {
                "metric": row["metric"],
                "value": float(row["value"]),
                "labels": {
                    k: str(row[k]) for k in labels if row[k] is not None and pd.notna(row[k])
                },
            }
        )
    return sorted(out, key=lambda s: (s["metric"], sorted(s["labels"].items())))


def _print_table(batch: pd.DataFrame, header: str, problems: list[str]) -> None:
    say(header)
    if batch.empty:
        say("(no samples)")
    else:
        labels = [c for c in label_columns(batch) if batch[c].notna().any()]
        table = batch[["metric", *labels, "value"]].astype(dict.fromkeys(labels, object))
        table = table.fillna("").sort_values(["metric", *labels], kind="stable")
        table["value"] = [f"{v:.10g}" for v in table["value"]]
        say(table.to_string(index=False))
    for problem in problems:
        say(f"note: {problem}")


def _cmd_once(args: argparse.Namespace) -> int:
    if args.target is None:
        raise ConfigError("greenwatch collect --once", [(None, "--target", "required")])
    target, file_profile = _target(args)
    profile_ref = args.profile or file_profile
    if profile_ref is None:
        raise ConfigError("greenwatch collect --once", [(None, "--profile", "required")])
    profile = load_profile(profile_ref)
    collector = build_collector(profile, target)
    name = collector.target.name
    started = time.perf_counter()
    try:
        with collector:
            batch = collector.collect()
    except CollectorError as exc:
        cause = exc.cause
        detail = cause if isinstance(cause, str) else str(cause) or type(cause).__name__
        print(f"greenwatch: poll of {name} failed: {exc.reason} ({detail})", file=sys.stderr)
        return EXIT_POLL_FAILED
    took = time.perf_counter() - started
    ts = batch["ts"].iloc[0].isoformat() if len(batch) else None
    if args.format == "json":
        say(
            json.dumps(
                {
                    "target": name,
                    "site": collector.target.site,
                    "profile": collector.profile_name,
                    "family": profile.family,
                    "ts": ts,
                    "duration_s": round(took, 6),
                    "samples": _samples(batch),
                    "problems": collector.problems,
                },
                indent=2,
            )
        )
        return 0
    header = (
        f"{name} (site {collector.target.site}) with profile {collector.profile_name} "
        f"[{profile.family}]: {len(batch)} samples at {ts or '-'} in {took * 1000:.0f} ms"
    )
    _print_table(batch, header, collector.problems)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    if args.profile is None:
        raise ConfigError("greenwatch collect --check", [(None, "--profile", "required")])
    check_profile(args.profile)
    profile = load_profile(args.profile)
    rules = len(profile.all_rules())
    say(f"{args.profile}: ok — {profile.family} profile {profile.name}, {rules} rules")
    return 0


def _cmd_list(_args: argparse.Namespace) -> int:
    profiles = [load_profile(name) for name in shipped_profiles()]
    width = max(len(p.name or "") for p in profiles)
    say(f"{'PROFILE':<{width}}  {'FAMILY':<10}  DESCRIPTION")
    for profile in profiles:
        say(f"{profile.name or '':<{width}}  {profile.family:<10}  {profile.description}")
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    if args.list_profiles:
        return _cmd_list(args)
    if args.check:
        return _cmd_check(args)
    return _cmd_once(args)
