"""``greenwatch alerts``: check rule and alerting files, test rules on stored data, export."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from greenwatch.alerts import (
    AlertingConfig,
    load_config,
    load_rules,
    parse_rules,
    prometheus_rules,
    replay_rules,
)
from greenwatch.cli._common import open_store, say
from greenwatch.cli._remote import ask, find_server
from greenwatch.inventory import load_inventory
from greenwatch.model import GreenwatchError, format_duration, load_yaml, parse_model

_CONFIG_KEYS = {
    "route",
    "receivers",
    "inhibit_rules",
    "maintenance_windows",
    "evaluation_interval",
    "external_url",
}
_SHOWN_LABELS = ("site", "link", "meter", "sensor", "target", "hub", "region", "kpi")


def _cmd_check(args: argparse.Namespace) -> int:
    doc = load_yaml(args.file)
    if isinstance(doc.data, dict) and _CONFIG_KEYS & set(doc.data) and "rules" not in doc.data:
        config = parse_model(doc, AlertingConfig)
        say(
            f"{args.file}: ok — alerting config with {len(config.receivers)} receivers, "
            f"{len(config.inhibit_rules)} inhibit rules, "
            f"{len(config.maintenance_windows)} maintenance windows"
        )
        return 0
    rules = parse_rules(doc)
    kinds = Counter(rule.kind for rule in rules.rules)
    detail = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
    say(f"{args.file}: ok — {len(rules.rules)} rules ({detail or 'none'})")
    return 0


def _utc(text: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(text)
    except ValueError as exc:
        raise GreenwatchError(f"bad time {text!r}: {exc}") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _rules_text(path: str | Path | None) -> dict[str, str] | None:
    """A rule or config file as the server takes it (None: the shipped one)."""
    if path is None or str(path) == "national":
        return None
    return {"source": str(path), "text": Path(path).read_text(encoding="utf-8")}


def _replayed(args: argparse.Namespace, at: pd.Timestamp) -> dict[str, Any]:
    """The rules replayed up to ``at``: by the server serving the data directory (or
    ``--url``) when one runs, else on the store itself."""
    rules = load_rules(args.file)  # bad files are told here, before any server is asked
    config = load_config(args.config)
    inventory = load_inventory(args.inventory)
    server = find_server(args)
    if server is not None:
        body = {"at": at.isoformat(), "rules": _rules_text(args.file),
                "config": _rules_text(args.config)}  # fmt: skip
        replayed: dict[str, Any] = ask(server, "POST", "/api/v1/alerts/test", json=body).json()[
            "data"
        ]
        return replayed
    store = open_store(args.data_dir)
    try:
        return replay_rules(store, inventory, rules, config, at)
    finally:
        store.close()


def _cmd_test(args: argparse.Namespace) -> int:
    at = _utc(args.at)
    replayed = _replayed(args, at)
    views, status = replayed["alerts"], replayed["status"]
    if args.format == "json":
        say(json.dumps({"at": replayed["at"], "alerts": views, "status": status}, indent=2))
        return 0
    step = pd.Timedelta(seconds=replayed["step_s"])
    first = pd.Timestamp(replayed["first"])
    say(
        f"{args.file} at {at:%Y-%m-%d %H:%M} UTC (evaluated every "
        f"{format_duration(step.to_pytimedelta())} from {first:%Y-%m-%d %H:%M}):"
    )
    if not views:
        say("nothing would fire or be pending")
    for v in views:
        mute = " (inhibited)" if v["inhibited"] else " (maintenance)" if v["maintenance"] else ""
        where = " ".join(f"{k}={v['labels'][k]}" for k in _SHOWN_LABELS if k in v["labels"])
        value = "" if v["value"] is None else f" value={v['value']:.4g}"
        say(f"{v['state'].upper():8} {v['severity']:8} {v['alertname']} {where}{value}{mute}")
        if v["annotations"].get("summary"):
            say(f"         {v['annotations']['summary']}")
    for rule, error in status["rule_errors"].items():
        print(f"greenwatch: rule {rule} failed: {error}", file=sys.stderr)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    rules = load_rules(args.file)
    out = prometheus_rules(rules, flavour=args.format)
    if args.out is None:
        sys.stdout.write(out.text)
    else:
        args.out.write_text(out.text, encoding="utf-8")
        say(f"{args.out}: {len(out.exported)} rules for {args.format}")
    for name, why in out.skipped:
        print(f"greenwatch: skipped {name}: {why}", file=sys.stderr)
    return 0
