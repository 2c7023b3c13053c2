"""Targets: one device or endpoint to poll, with where it is, how often and as whom.

Credentials are references (an environment variable or a file), never inline values, so a
target file can be committed and a target can be printed or logged without leaking a secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from greenwatch.collect._errors import CONFIG, CollectorError
from greenwatch.model import (
    ConfigError,
    SecretError,
    SecretRef,
    Slug,
    StrictModel,
    YamlDocument,
    load_yaml,
    parse_model,
)

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", max_length=200)]


def reveal(secret: SecretRef, target: str) -> str:
    """The secret's value; a missing variable or file is a ``bad config`` error of ``target``."""
    try:
        return secret.reveal()
    except SecretError as exc:
        raise CollectorError(target, str(exc), CONFIG) from exc


class Credentials(StrictModel):
    """How to authenticate; which fields apply depends on the family.

    HTTP (Redfish, Prometheus): ``username`` + ``password``; ``method`` basic, session
    (Redfish SessionService) or bearer (``password`` is the token). SNMP: ``community`` for
    v2c (default ``public`` when neither community nor a v3 user is given); for v3 USM,
    ``username`` + ``auth_key`` (+ ``priv_key`` for authPriv).
    """

    username: str | None = None
    password: SecretRef | None = None
    method: Literal["basic", "session", "bearer"] = "basic"
    community: SecretRef | None = None
    auth_key: SecretRef | None = None
    priv_key: SecretRef | None = None
    auth_protocol: Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"] = "SHA"
    priv_protocol: Literal["DES", "3DES", "AES", "AES192", "AES256"] = "AES"


class Peer(StrictModel):
    """A link-probe peer: the link it measures and a ``host:port`` to connect to."""

    link: str = Field(min_length=1)
    address: str = Field(pattern=r"^[^\s:]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$")


class Target(StrictModel):
    """One thing to poll. ``address`` is ``host`` or ``host:port``; ``url`` is for HTTP."""

    name: Name
    site: Slug
    profile: str | None = None
    address: str | None = None
    url: str | None = None
    interval_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)
    jitter_s: float = Field(default=0.0, ge=0)
    labels: dict[str, str] = Field(default_factory=dict)
    credentials: Credentials = Credentials()
    verify_tls: bool = True
    ca_file: Path | None = None
    device_id: int = Field(default=1, ge=0, le=255, description="Modbus unit / device id")
    peers: tuple[Peer, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Target:
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"url must be http(s)://host[:port][/path], not {self.url!r}")
        reserved = {"site", "ts", "metric", "value", "target", "profile", "reason"}
        clash = reserved & set(self.labels)
        if clash:
            raise ValueError(f"labels may not set {sorted(clash)}")
        return self

    def host_port(self, default_port: int) -> tuple[str, int]:
        """``(host, port)`` from ``address`` (or from ``url``), with a family default port.

        Raises :class:`ConfigError` when the target has neither.
        """
        text = self.address
        if text is None and self.url is not None:
            parts = urlsplit(self.url)
            return parts.hostname or "", parts.port or default_port
        if text is None:
            raise ConfigError(f"target {self.name}", [(None, "address", "required here")])
        try:
            return split_host_port(text, default_port)
        except ValueError as exc:
            raise ConfigError(f"target {self.name}", [(None, "address", str(exc))]) from exc

    def require_url(self) -> str:
        """The base URL (``address`` is taken as ``http://address``), without trailing slash.

        Raises :class:`ConfigError` when the target has neither.
        """
        if self.url is not None:
            return self.url.rstrip("/")
        if self.address is not None:
            return f"http://{self.address}".rstrip("/")
        raise ConfigError(f"target {self.name}", [(None, "url", "required here")])


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """Split ``host``, ``host:port`` or ``[v6]:port``."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, default_port


class TargetFile(StrictModel):
    targets: tuple[Target, ...] = Field(min_length=1)


def target_from_spec(spec: Target | dict[str, Any], source: str = "<target>") -> Target:
    """A :class:`Target` from a dict (validated; problems raise :class:`ConfigError`)."""
    if isinstance(spec, Target):
        return spec
    return parse_model(YamlDocument(source, spec, {}), Target)


def load_targets(path: str | Path) -> tuple[Target, ...]:
    """Targets from a YAML file ``targets: [...]``; names must be unique."""
    doc = load_yaml(path)
    parsed = parse_model(doc, TargetFile)
    seen: set[str] = set()
    for i, target in enumerate(parsed.targets):
        if target.name in seen:
            loc = ("targets", i, "name")
            raise ConfigError(
                doc.source,
                [(doc.line_of(loc), f"targets[{i}].name", f"duplicate target {target.name!r}")],
            )
        seen.add(target.name)
    return parsed.targets
