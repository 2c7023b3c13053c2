"""``greenwatch alerts``: check rule and alerting files, test rules on stored data, export."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

from greenwatch.alerts import (
    AlertEngine,
    AlertingConfig,
    load_config,
    load_rules,
    parse_rules,
    prometheus_rules,
)
from greenwatch.cli._common import Subparsers, open_store, say
from greenwatch.cli._core import common_args
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


def _cmd_test(args: argparse.Namespace) -> int:
    rules = load_rules(args.file)
    config = load_config(args.config)
    inventory = load_inventory(args.inventory)
    at = _utc(args.at)
    store = open_store(args.data_dir)
    step = pd.Timedelta(config.evaluation_interval)
    history = max(
        (pd.Timedelta(s.for_) + pd.Timedelta(s.keep_firing_for) for s in rules.specs().values()),
        default=pd.Timedelta(0),
    )
    engine = AlertEngine(store, inventory, rules, config, clock=lambda: at)
    try:
        # Replay the evaluations before ``at`` so ``for`` and ``keep_firing_for`` mean what
        # they mean in the running service.
        first = t = at - (history // step + 1) * step
        while t <= at:
            engine.evaluate(t)
            t += step
        views = [v for v in engine.alerts(at) if v["state"] != "resolved"]
        status = engine.status()
    finally:
        engine.close()
        store.close()
    if args.format == "json":
        say(json.dumps({"at": at.isoformat(), "alerts": views, "status": status}, indent=2))
        return 0
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


def add_commands(sub: Subparsers) -> None:
    """Register ``alerts check``, ``alerts test`` and ``alerts export``."""
    alerts = sub.add_parser(
        "alerts",
        help="check, test and export alert rules",
        description="Alert rules (YAML) over canonical metrics and KPIs, and the alerting "
        "config (receivers, routes, inhibitions, maintenance windows).",
    )
    act = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = act.add_parser(
        "check",
        help="validate a rule file or alerting config; exit 2 naming file, line and key",
        description="Validate a rule file (top-level 'rules') or an alerting config "
        "(top-level 'route', 'receivers', …). Exit 0 when valid; exit 2 with every problem "
        "as FILE:LINE: KEY: MESSAGE otherwise.",
    )
    check.add_argument("file", help="rule file or alerting config (YAML)")
    check.set_defaults(handler=_cmd_check)

    test = act.add_parser(
        "test",
        help="evaluate rules on stored data and show what would fire at a time",
        description="Replay the rules' evaluations on the stored data up to --at (long "
        "enough for every 'for' and 'keep_firing_for') and show the alerts that would be "
        "firing or pending then, with their summaries, inhibitions and maintenance windows. "
        "Sends nothing and changes no state.",
    )
    test.add_argument("file", help="rule file (YAML), or 'national' for the shipped pack")
    test.add_argument("--at", required=True, help="ISO time to evaluate at (UTC unless offset)")
    test.add_argument("--config", type=Path, help="alerting config (default: the shipped one)")
    test.add_argument("--format", choices=["table", "json"], default="table")
    common_args(test)
    test.set_defaults(handler=_cmd_test)

    export = act.add_parser(
        "export",
        help="write the PromQL-expressible rules as a Prometheus rule file",
        description="Write the rules that PromQL can express (metric and absent rules) as a "
        "Prometheus rule file ('promtool check rules' accepts it; vmalert loads it). KPI and "
        "sub-meter rules need greenwatch and are listed as skipped on stderr.",
    )
    export.add_argument(
        "file", nargs="?", default="national", help="rule file (default: the shipped national pack)"
    )
    export.add_argument(
        "--format",
        choices=["prometheus", "vmalert"],
        default="prometheus",
        help="prometheus (default), or vmalert: leaves out keep_firing_for, which vmalert "
        "releases before 1.90 reject",
    )
    export.add_argument("--out", type=Path, help="write here instead of standard output")
    export.set_defaults(handler=_cmd_export)
