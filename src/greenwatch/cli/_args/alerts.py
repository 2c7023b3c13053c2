"""The arguments of alerts; handlers load when the command runs."""

from __future__ import annotations

from pathlib import Path

from greenwatch.cli._args.shared import add_server_args, common_args, lazy
from greenwatch.cli._common import Subparsers


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
    check.set_defaults(handler=lazy("_alerts", "_cmd_check"))

    test = act.add_parser(
        "test",
        help="evaluate rules on stored data and show what would fire at a time",
        description="Replay the rules' evaluations on the stored data up to --at (long "
        "enough for every 'for' and 'keep_firing_for') and show the alerts that would be "
        "firing or pending then, with their summaries, inhibitions and maintenance windows. "
        "Sends nothing and changes no state. While greenwatch serve runs on the data "
        "directory (or with --url) that server replays the rules on its store, with its "
        "inventory; the output is the same.",
    )
    test.add_argument("file", help="rule file (YAML), or 'national' for the shipped pack")
    test.add_argument("--at", required=True, help="ISO time to evaluate at (UTC unless offset)")
    test.add_argument("--config", type=Path, help="alerting config (default: the shipped one)")
    test.add_argument("--format", choices=["table", "json"], default="table")
    common_args(test)
    add_server_args(test)
    test.set_defaults(handler=lazy("_alerts", "_cmd_test"))

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
    export.set_defaults(handler=lazy("_alerts", "_cmd_export"))
