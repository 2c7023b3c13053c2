"""What a report is computed with: grade table, coverage threshold, targets, the age at which a
compute pool's verification is stale, and the settings of scheduled reports (schedules,
retention, SMTP) as a YAML file."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
from pydantic import Field, field_validator

from greenwatch.metrics import (
    DEFAULT_MAX_VERIFICATION_AGE,
    DEFAULT_MIN_COVERAGE,
    DEFAULT_MIN_SHARE,
    NATIONAL_PUE_TARGET,
)
from greenwatch.model import ConfigError, GreenwatchError, Slug, StrictModel, load_yaml, parse_model
from greenwatch.reports._names import PeriodKind

FORMATS: tuple[str, ...] = ("html", "pdf", "csv")
BUILTIN_GRADES = "<builtin>/pue-grades.csv"
# 2024 special action plan: green power share of new hub data centres above 80 %.
GREEN_SHARE_TARGET = 0.8


class ReportError(GreenwatchError):
    """A report cannot be made as asked (bad scope, format, archive or mail setting)."""


def parse_formats(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"html,pdf,csv"`` → ``("html", "pdf", "csv")`` in canonical order; unknown → error."""
    names = [p.strip() for p in (text.split(",") if isinstance(text, str) else text)]
    unknown = sorted({n for n in names if n not in FORMATS})
    if unknown or not any(names):
        raise ReportError(f"bad format {','.join(unknown) or text!r}: use any of html,pdf,csv")
    return tuple(f for f in FORMATS if f in names)


@dataclass(frozen=True)
class GradeTable:
    """PUE grade limits (columns grade, pue_max) and where they come from."""

    table: pd.DataFrame
    source: str
    placeholder: bool

    @classmethod
    def load(cls, path: str | Path | None = None) -> GradeTable:
        """The shipped placeholder table (``None``), or a CSV with columns grade, pue_max."""
        if path is None:
            ref = resources.files("greenwatch.metrics") / "data" / "pue-grades.csv"
            text, source = ref.read_text(encoding="utf-8"), BUILTIN_GRADES
        else:
            source = str(path)
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(source, [(None, "", f"cannot read: {exc.strerror}")]) from exc
        try:
            table = pd.read_csv(io.StringIO(text), comment="#", dtype={"grade": str})
            pd.to_numeric(table["pue_max"], errors="raise")
        except (KeyError, ValueError) as exc:
            raise ConfigError(source, [(None, "", f"bad grade table: {exc}")]) from exc
        return cls(table, source, "PLACEHOLDER" in text.upper())


@dataclass(frozen=True)
class ReportConfig:
    """How figures are judged: grade table, coverage needed to count a site, targets, top-N,
    and how old a compute pool's last passed verification may be before it is stale."""

    grades: GradeTable = field(default_factory=GradeTable.load)
    min_coverage: float = DEFAULT_MIN_COVERAGE
    min_share: float = DEFAULT_MIN_SHARE
    national_pue_target: float = NATIONAL_PUE_TARGET
    green_share_target: float = GREEN_SHARE_TARGET
    top_changes: int = 10
    max_verification_age: pd.Timedelta = DEFAULT_MAX_VERIFICATION_AGE


_CRON = re.compile(r"\S+( \S+){4}")


class ScheduleSpec(StrictModel):
    """One scheduled report: a crontab line in Asia/Shanghai time and what to report."""

    name: Slug
    cron: str = Field(description="minute hour day-of-month month day-of-week, Asia/Shanghai")
    period: PeriodKind = Field(description="report the last complete period of this kind")
    scope: str = "national"
    formats: tuple[str, ...] = FORMATS
    email: tuple[str, ...] = ()

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        try:
            return parse_formats(value)
        except ReportError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if not _CRON.fullmatch(value.strip()):
            raise ValueError("cron needs five fields: minute hour day month day-of-week")
        # Imported here: APScheduler's cron module (and asyncio) costs ~20 ms that a
        # ``greenwatch report`` without schedules need not pay.
        from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415

        CronTrigger.from_crontab(value)
        return value.strip()


class Retention(StrictModel):
    """Keep the newest ``keep`` reports per scope and period kind, and none whose period ended
    more than ``days`` days ago; ``None`` leaves that rule off."""

    keep: int | None = Field(default=None, ge=1)
    days: int | None = Field(default=None, ge=1)


class SmtpSettings(StrictModel):
    """Where report mail goes. The password is read from the environment variable or file named
    here, never from the settings file itself."""

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    ca_file: Path | None = Field(default=None, description="CA bundle to verify the server")
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    sender: str = "greenwatch@localhost"
    timeout_s: float = Field(default=30.0, gt=0)

    def password(self) -> str | None:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ReportError(f"SMTP password: environment variable {self.password_env} unset")
            return value
        if self.password_file:
            return self.password_file.read_text(encoding="utf-8").strip()
        return None


class ReportSettings(StrictModel):
    """Scheduled reports of ``greenwatch serve`` (a YAML file, see :func:`load_report_settings`)."""

    schedules: tuple[ScheduleSpec, ...] = ()
    retention: Retention = Retention()
    smtp: SmtpSettings | None = None
    grades: Path | None = None
    min_coverage: float = Field(default=DEFAULT_MIN_COVERAGE, ge=0, le=1)
    max_verification_age_days: int = Field(
        default=DEFAULT_MAX_VERIFICATION_AGE.days,
        ge=1,
        description="a compute pool whose last passed verification is older is stale",
    )

    def config(self) -> ReportConfig:
        return ReportConfig(
            grades=GradeTable.load(self.grades),
            min_coverage=self.min_coverage,
            max_verification_age=pd.Timedelta(days=self.max_verification_age_days),
        )


def load_report_settings(path: str | Path) -> ReportSettings:
    """Load and validate report settings; errors name the file, line and key."""
    doc = load_yaml(path)
    settings = parse_model(doc, ReportSettings)
    names = [s.name for s in settings.schedules]
    for i, name in enumerate(names):
        if name in names[:i]:
            line = doc.line_of(("schedules", i, "name"))
            raise ConfigError(doc.source, [(line, f"schedules[{i}].name", "duplicate name")])
        if settings.schedules[i].email and settings.smtp is None:
            line = doc.line_of(("schedules", i, "email"))
            raise ConfigError(doc.source, [(line, f"schedules[{i}].email", "needs smtp settings")])
    return settings
