"""Configuration: pydantic models for config/*.yaml and ``load()``.

Every model forbids unknown keys and describes every field, so a typo is an error at start-up that names the
file and the key, never a silently ignored setting.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from detectors.settings import DetectorsSettings, load_detectors_settings
from gateway.config_errors import ConfigError, ConfigProblem, FrozenModel, did_you_mean, model_from_data, read_yaml
from gateway.mime.limits import ExtractionLimits
from gateway.policy.config import PolicyConfig, load_policy
from gateway.sso_settings import OidcSettings
from gateway.store.settings import AlertSettings, DigestSettings, NotificationSettings, StoreSettings


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"not a CIDR network: {value!r}") from None
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]


def _upstream_url(value: str) -> str:
    if value.startswith("maildir:") and len(value) > len("maildir:"):
        return value
    for scheme in ("smtp://", "smtp+starttls://", "smtps://"):
        if value.startswith(scheme):
            rest = value[len(scheme) :]
            host, _, port = rest.rpartition(":")
            if host and port.isdigit() and 0 < int(port) < 65536:
                return value
    raise ValueError("expected smtp://HOST:PORT, smtp+starttls://HOST:PORT, smtps://HOST:PORT or maildir:PATH")


UpstreamUrl = Annotated[str, AfterValidator(_upstream_url)]


class TlsSettings(FrozenModel):
    cert: Path | None = Field(None, description="PEM certificate chain for STARTTLS. STARTTLS is offered when set.")
    key: Path | None = Field(None, description="PEM private key for the certificate.")
    required: bool = Field(False, description="Refuse MAIL before STARTTLS (530 5.7.0).")


_GUID = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"


class ExchangeOnlineSettings(FrozenModel):
    """Admission of one Exchange Online tenant's outbound connector (issue 17): Microsoft's sending addresses are
    shared by every tenant, so neither the address nor the certificate alone says whose mail it is."""

    tenant_id: str | None = Field(
        None,
        pattern=_GUID,
        description="The tenant's id (a GUID, Entra ID > Overview > Tenant ID). Set: a client that presents a "
        "certificate verified against ca_bundle and named in certificate_names may relay, and each of its "
        "messages must carry tenant_header equal to this id (554 5.7.1 otherwise). Unset: off.",
    )
    certificate_names: list[str] = Field(
        default_factory=lambda: ["mail.protection.outlook.com"],
        min_length=1,
        description="Names the client certificate must carry (subject CN or a DNS SAN; `*.example.com` matches one "
        "label). Exchange Online's connector presents mail.protection.outlook.com.",
    )
    ca_bundle: Path | None = Field(
        None,
        description="PEM file of the CA certificates the client certificate must chain to (relative to the config "
        "folder); only these are trusted for client certificates, never the system store. Re-read on SIGHUP.",
    )
    tenant_header: str = Field(
        "X-MS-Exchange-CrossTenant-Id",
        pattern=r"^[!-9;-~]{1,76}$",
        description="Header field Exchange Online stamps with the sending tenant's id; every copy of it in the "
        "message must equal tenant_id, and at least one must be there.",
    )

    @property
    def enabled(self) -> bool:
        return self.tenant_id is not None


class AuthSettings(FrozenModel):
    users_file: Path | None = Field(
        None,
        description="File of `user:hash` lines, hashes argon2 ($argon2id$...) or scrypt ($scrypt$...). "
        "AUTH PLAIN/LOGIN is offered when set; authenticated clients may relay from any address.",
    )
    require_tls: bool = Field(True, description="Only offer AUTH after STARTTLS.")


class ServerSettings(FrozenModel):
    listen_host: str = Field("127.0.0.1", description="Address to listen on.")
    listen_port: int = Field(10025, ge=0, le=65535, description="Port to listen on (0 picks a free one).")
    hostname: str = Field("dlpgate.localdomain", description="Name in the banner, EHLO reply and Received line.")
    allowed_networks: list[Cidr] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"],
        description="Client networks that may relay without AUTH (CIDR).",
    )
    max_message_size: int = Field(50 * 1024 * 1024, ge=1024, description="SIZE limit in bytes.")
    max_in_flight_bytes: int = Field(
        512 * 1024 * 1024,
        ge=1024,
        description="Most bytes of all messages in flight together (being received, scanned or relayed); a "
        "message that would go past it gets 451 4.3.1 and is sent again later. At least max_message_size.",
    )
    spool_threshold: int = Field(
        1024 * 1024,
        ge=0,
        description="A message larger than this many bytes is kept in a file under state_dir/spool/messages while "
        "in flight (encrypted with the quarantine's key when store.encryption_key_env is set; removed when "
        "the transaction ends) instead of in memory.",
    )
    max_recipients: int = Field(500, ge=1, description="Most RCPT TO per transaction (452 4.5.3 after).")
    max_connections: int = Field(200, ge=1, description="Concurrent client connections (421 4.7.0 after).")
    max_connections_per_client: int = Field(
        20,
        ge=1,
        description="Concurrent connections one client address outside allowed_networks may hold before it has "
        "authenticated (421 4.7.0 after), so one host cannot take every slot; allowed_networks are exempt.",
    )
    idle_timeout: float = Field(300.0, gt=0, description="Seconds a client may stay silent between commands.")
    transaction_timeout: float = Field(
        600.0, gt=0, description="Seconds one connection may take from MAIL FROM to the end of DATA."
    )
    max_line_length: int = Field(
        65536, ge=1001, description="Longest DATA line accepted (Outlook writes lines of several kB)."
    )
    max_command_length: int = Field(2048, ge=512, description="Longest SMTP command line accepted.")
    max_header_count: int = Field(1000, ge=10, description="Most header fields in one message (552 after).")
    bare_line_endings: str = Field(
        "normalise",
        pattern="^(reject|normalise)$",
        description="A line ending in a bare LF in DATA: `normalise` (default, as Postfix 3.9+) takes it as CRLF and "
        "relays CRLF only, so `\\n.\\n` can never end the message upstream; `reject` refuses the message (554 "
        "5.6.0). A bare CR and NUL are always refused.",
    )
    shutdown_grace: float = Field(30.0, ge=0, description="Seconds to let transactions finish on SIGTERM.")
    tls: TlsSettings = Field(default_factory=TlsSettings, description="STARTTLS settings.")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="SMTP AUTH settings.")
    exchange_online: ExchangeOnlineSettings = Field(
        default_factory=ExchangeOnlineSettings,
        description="Admit one Exchange Online tenant by client certificate and tenant header (docs/deploy.md).",
    )

    @model_validator(mode="after")
    def _budget_holds_one_message(self) -> ServerSettings:
        if self.max_in_flight_bytes < self.max_message_size:
            raise ValueError("max_in_flight_bytes must be at least max_message_size (one message must fit)")
        return self


class UpstreamSettings(FrozenModel):
    url: UpstreamUrl = Field(
        "maildir:var/maildir",
        description="Where accepted mail goes; a relative maildir path starts where a relative state_dir does.",
    )
    timeout: float = Field(60.0, gt=0, description="Seconds to wait for any upstream reply.")
    helo_name: str | None = Field(None, description="Name used in EHLO to the upstream (default: server.hostname).")
    tls_verify: bool = Field(True, description="Verify the upstream's certificate for STARTTLS/SMTPS.")
    encryption_smarthost: str | None = Field(
        None, description="URL of the encryption service's host for the `smarthost` encrypt mode."
    )

    @field_validator("encryption_smarthost")
    @classmethod
    def _check_smarthost(cls, v: str | None) -> str | None:
        return None if v is None else _upstream_url(v)


class OrganisationSettings(FrozenModel):
    name: str = Field("Cafcass", description="Organisation name (replies, digests).")
    domains: list[str] = Field(
        default_factory=lambda: ["cafcass.gov.uk"],
        min_length=1,
        description="Organisation mail domains; subdomains count as internal too.",
    )

    @field_validator("domains")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return [d.strip().lower().rstrip(".") for d in v]


class ScanSettings(FrozenModel):
    enabled: bool = Field(True, description="Scan content. Off: every message is relayed unscanned (benchmarks).")
    workers: int = Field(0, ge=0, description="Worker processes for extraction and detection; 0 = CPU count.")
    deadline_seconds: float = Field(
        60.0, gt=0, description="Whole-message scan deadline; a miss answers 451 (fail closed)."
    )
    queue_wait_seconds: float = Field(
        30.0, gt=0, description="How long a message may wait for a free worker before 451 (back-pressure)."
    )
    max_queue: int = Field(0, ge=0, description="Most messages waiting for a worker; 0 = 4 x workers.")


class MetricsSettings(FrozenModel):
    listen: str | None = Field(
        "127.0.0.1:9125", description="HOST:PORT for /metrics, /healthz, /readyz; null turns it off."
    )


class HeaderSettings(FrozenModel):
    full_headers: Literal["internal_only", "always"] = Field(
        "internal_only",
        description="When relayed mail carries X-DLP-Decision, -Rules, -Sensitivity, -Entities and -Monitor: "
        "`internal_only` (default) only when every recipient is internal (one copy reaches every recipient, and "
        "these fields tell an outsider what was detected); `always` for deployments whose next hop strips them.",
    )
    tag_header: str = Field(
        "X-DLP-Tag",
        pattern=r"^X-DLP-[A-Za-z0-9-]{1,40}$",
        description="The one field the `tag` action adds to mail for any recipient, for the next hop to act on and "
        "strip (docs/deploy.md). An X-DLP-* name, so a copy sent by a client is removed before we add ours.",
    )
    tag_value: str = Field(
        "1",
        pattern=r"^[!-~]{1,64}$",
        description="Value of tag_header: an opaque token (printable ASCII, no spaces) the next hop matches.",
    )


class FilesSettings(FrozenModel):
    policy: str = Field("policy.yaml", description="Policy file, relative to the config folder.")
    detectors: str = Field("detectors.yaml", description="Detector file, relative to the config folder.")


class ConsoleTls(FrozenModel):
    cert: Path | None = Field(None, description="PEM certificate chain for HTTPS. HTTPS is served when set.")
    key: Path | None = Field(None, description="PEM private key for the certificate.")


class ConsoleSettings(FrozenModel):
    """The review console (issue 14): its own listener, served by `serve` and by `dlpgate console`."""

    enabled: bool = Field(True, description="Serve the review console beside the SMTP listener.")
    listen: str = Field(
        "127.0.0.1:8026", pattern=r"^\[?[^\s\]]*\]?:\d{1,5}$", description="HOST:PORT (port 0 picks one)."
    )
    tls: ConsoleTls = Field(default_factory=ConsoleTls, description="HTTPS; cookies are Secure when set.")
    public_url: str | None = Field(
        None, description="The console's address as reviewers reach it (links in mail), e.g. https://dlp.example/."
    )
    session_idle_minutes: float = Field(30, gt=0, description="Signed out after this long without a request.")
    session_absolute_hours: float = Field(10, gt=0, description="Signed out this long after signing in, whatever.")
    secret_key_env: str | None = Field(
        None,
        description="Environment variable holding the session-signing key (the same on every node). Unset: a "
        "random key kept in state_dir/console-secret (mode 0600), made on first start.",
    )
    lockout_after: int = Field(5, ge=1, description="Failed sign-ins in a row before the account is locked.")
    lockout_seconds: float = Field(
        60, gt=0, description="First lock; it doubles with every further failure (back-off), up to a day."
    )
    exception_max_days: int = Field(
        90, ge=1, le=366, description="Longest a policy exception may run before it expires (issue 15)."
    )
    oidc: OidcSettings = Field(
        default_factory=OidcSettings, description="Single sign-on by OpenID Connect (README: Single sign-on)."
    )


class CasesSettings(FrozenModel):
    """The case directory and first-time recipients (issue 16). The key never lives in a config file or the
    database: an environment variable (as ``store.encryption_key_env``) or a file readable only by the service."""

    key_env: str = Field(
        "DLPGATE_CASES_KEY",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable holding the HMAC key for the case directory and the "
        "recipient history (at least 16 characters; make one with `dlpgate cases keygen`). The same on every node.",
    )
    key_file: Path | None = Field(
        None,
        description="File holding the key instead (relative to the config folder); used when set, else key_env.",
    )
    first_time_scope: Literal["sender", "organisation"] = Field(
        "sender",
        description="`sender`: first time this sender writes to the address; `organisation`: first time anyone "
        "in the organisation does.",
    )
    history_days: int = Field(
        365, ge=1, description="A sender-recipient pair not used for this many days is forgotten (first time again)."
    )


class CaseKeyError(Exception):
    """No usable case key: the message says how to set one."""


MIN_CASE_KEY_CHARS = 16


def case_key(cfg: Config) -> bytes:
    """The case directory's HMAC key from ``cases.key_file`` or the environment variable ``cases.key_env``."""
    s = cfg.gateway.cases
    if s.key_file is not None:
        path = cfg.resolve(s.key_file)
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CaseKeyError(f"cases.key_file {path} cannot be read ({exc.__class__.__name__})") from None
        where = f"the file {path} (cases.key_file)"
    else:
        value = os.environ.get(s.key_env, "").strip()
        where = f"the environment variable {s.key_env} (cases.key_env)"
    if len(value) < MIN_CASE_KEY_CHARS:
        raise CaseKeyError(
            f"no case key: set {where} to a secret of at least {MIN_CASE_KEY_CHARS} characters, the same on every "
            "node (make one with `dlpgate cases keygen`), or point cases.key_file in gateway.yaml at a file holding it"
        )
    return value.encode("utf-8")


def optional_case_key(cfg: Config) -> bytes | None:
    """The key, or None when none is configured (the case conditions then never hold)."""
    try:
        return case_key(cfg)
    except CaseKeyError:
        return None


class SyslogSettings(FrozenModel):
    """Incidents as structured syslog events for a SIEM (issue 17; sent by ``gateway.notify.syslog``). Metadata
    only: reference, action, status, sensitivity, rule ids, entity types and counts; never addresses or content."""

    enabled: bool = Field(False, description="Send one syslog event per committed incident.")
    target: str = Field(
        "udp://127.0.0.1:514", pattern=r"^(udp|tcp)://[^/:]+(:\d{1,5})?$",
        description="The collector: udp://HOST:PORT (one datagram) or tcp://HOST:PORT (RFC 6587 octet counting).",
    )
    format: Literal["rfc5424", "cef"] = Field(
        "rfc5424", description="rfc5424: fields as structured data; cef: ArcSight CEF in the message part."
    )
    facility: int = Field(13, ge=0, le=23, description="Syslog facility number (13 = log audit, 16 = local0).")
    app_name: str = Field("dlpgate", pattern=r"^[!-~]{1,48}$", description="RFC 5424 APP-NAME.")
    sd_id: str = Field(
        "dlpgate@32473", pattern=r"^[!-~]{1,32}$",
        description="RFC 5424 SD-ID of the incident element (32473 is the documentation enterprise number; use "
        "your own if the SIEM cares).",
    )
    timeout: float = Field(5.0, gt=0, description="Seconds to connect and send (TCP).")


class DkimSettings(FrozenModel):
    """DKIM signing of the messages the gateway changes (issue 17): a subject tag or S/MIME breaks the sender's
    signature, so the gateway re-signs for its own domain. The key stays in a file only the service reads."""

    enabled: bool = Field(False, description="Sign messages the gateway changed (tagged subject, S/MIME).")
    domain: str | None = Field(None, description="d= of the signature (the organisation's signing domain).")
    selector: str | None = Field(None, description="s= of the signature (the DNS record selector._domainkey.domain).")
    key_file: Path | None = Field(
        None, description="PEM RSA or Ed25519 private key (relative to the config folder); never logged."
    )
    headers: list[str] = Field(
        default_factory=lambda: ["from", "to", "cc", "subject", "date", "message-id", "reply-to", "mime-version",
                                 "content-type", "content-transfer-encoding"],
        min_length=1, description="Header fields to sign (From is always signed).",
    )

    @model_validator(mode="after")
    def _complete(self) -> DkimSettings:
        if self.enabled and not (self.domain and self.selector and self.key_file):
            raise ValueError("dkim.enabled needs domain, selector and key_file")
        return self


class GatewaySettings(FrozenModel):
    node_name: str = Field(
        default_factory=lambda: os.uname().nodename, description="This node's name in incidents and logs."
    )
    state_dir: Path = Field(
        Path("var"),
        description="Folder for the SQLite database, the incident spool and the pid file. A relative path is "
        "relative to the parent of the config folder (a checkout keeps `var/` beside `config/`); for the defaults "
        "packaged in the wheel, to /var/lib/dlpgate as root and $XDG_STATE_HOME/dlpgate otherwise.",
    )
    server: ServerSettings = Field(default_factory=ServerSettings, description="The SMTP listener.")
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings, description="The next hop.")
    organisation: OrganisationSettings = Field(default_factory=OrganisationSettings, description="Who we are.")
    scan: ScanSettings = Field(default_factory=ScanSettings, description="Scanning workers and deadlines.")
    extraction: ExtractionLimits = Field(default_factory=ExtractionLimits, description="MIME/attachment limits.")
    store: StoreSettings = Field(default_factory=StoreSettings, description="Quarantine and incident database.")
    digest: DigestSettings = Field(default_factory=DigestSettings, description="Daily governance digest.")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Immediate potential-breach alerts.")
    notifications: NotificationSettings = Field(
        default_factory=NotificationSettings, description="Messages to senders."
    )
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description="HTTP metrics and health.")
    headers: HeaderSettings = Field(
        default_factory=HeaderSettings, description="X-DLP-* fields on relayed mail (what may leave)."
    )
    files: FilesSettings = Field(default_factory=FilesSettings, description="Other config files.")
    console: ConsoleSettings = Field(default_factory=ConsoleSettings, description="The review console (web).")
    cases: CasesSettings = Field(
        default_factory=CasesSettings, description="Case directory key and first-time recipients (issue 16)."
    )
    syslog: SyslogSettings = Field(
        default_factory=SyslogSettings, description="Incidents as structured syslog events (issue 17)."
    )
    dkim: DkimSettings = Field(default_factory=DkimSettings, description="DKIM signing of changed mail (issue 17).")


@dataclass(frozen=True)
class Config:
    """The whole configuration, as loaded from one folder."""

    directory: Path
    gateway: GatewaySettings
    policy: PolicyConfig
    detectors: DetectorsSettings

    def resolve(self, path: Path | str) -> Path:
        """Files a config names (lists, certificates, users) are relative to the config folder."""
        p = Path(path)
        return p if p.is_absolute() else (self.directory / p)

    @property
    def packaged(self) -> bool:
        """True for the defaults packaged in the wheel, whose folder is no place for state (site-packages)."""
        return self.directory.resolve() == WHEEL_CONFIG_DIR.resolve()

    @property
    def state_base(self) -> Path:
        """Where relative state paths start. Never the working directory: every command (``serve``, ``quarantine
        list`` run from elsewhere, ``reload``) must find the same database, or a read-only command would look
        at, or create, another one."""
        return packaged_state_home() if self.packaged else self.directory.parent

    @property
    def state_dir(self) -> Path:
        """Database, incident spool and pid file (see ``state_base`` for a relative ``state_dir``)."""
        return _under(self.state_base, self.gateway.state_dir)

    def upstream_url(self, url: str) -> str:
        """``url`` with a relative Maildir path made absolute from ``state_base`` (SMTP URLs unchanged), so the
        gateway and a release from the CLI deliver to the same folder wherever they are started."""
        if not url.startswith("maildir:"):
            return url
        return f"maildir:{_under(self.state_base, Path(url[len('maildir:'):]))}"


WHEEL_CONFIG_DIR = Path(__file__).resolve().parent / "default_config"
"""Where the wheel carries the repository's ``config/`` (pyproject's force-include)."""

ROOT_STATE_HOME = Path("/var/lib/dlpgate")


def _under(base: Path, path: Path) -> Path:
    path = path.expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def packaged_state_home(*, euid: int | None = None, env: Mapping[str, str] | None = None) -> Path:
    """State for the packaged defaults: /var/lib/dlpgate for root (a service), else the user's XDG state home
    (``$XDG_STATE_HOME/dlpgate``, ``~/.local/state/dlpgate`` when unset or not absolute, as the XDG spec says)."""
    euid = os.geteuid() if euid is None else euid
    env = os.environ if env is None else env
    if euid == 0:
        return ROOT_STATE_HOME
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "dlpgate"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".local" / "state" / "dlpgate"


def command_line_url(url: str) -> str:
    """An upstream URL typed on a command line (``serve --upstream``, ``quarantine release --upstream``): a
    relative Maildir path means the folder where the operator typed it, so it is made absolute at once."""
    if not url.startswith("maildir:"):
        return url
    return f"maildir:{_under(Path.cwd(), Path(url[len('maildir:'):]))}"


def packaged_config_dir() -> Path:
    if WHEEL_CONFIG_DIR.is_dir():
        return WHEEL_CONFIG_DIR
    return Path(__file__).resolve().parent.parent / "config"


def locate(path: Path | str | None) -> Path:
    """``--config`` may name the folder or its gateway.yaml; default ./config, else the packaged defaults."""
    if path is None:
        local = Path("config")
        return local.resolve() if (local / "gateway.yaml").is_file() else packaged_config_dir()
    p = Path(path)
    if p.is_file():
        return p.resolve().parent
    return p.resolve()


def load(path: Path | str | None = None) -> Config:
    directory = locate(path)
    gw_file = directory / "gateway.yaml"
    if not directory.is_dir():
        raise ConfigError.one(directory, "", "config folder not found")
    problems: list[ConfigProblem] = []
    gateway = None
    try:
        gateway = model_from_data(gw_file, read_yaml(gw_file), GatewaySettings)
    except ConfigError as exc:
        problems.extend(exc.problems)
    files = gateway.files if gateway else FilesSettings()
    policy = detectors = None
    try:
        policy = load_policy(directory / files.policy)
    except ConfigError as exc:
        problems.extend(exc.problems)
    try:
        detectors = load_detectors_settings(directory / files.detectors)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems or gateway is None or policy is None or detectors is None:
        raise ConfigError(problems)
    _check_rule_entities(policy, detectors, directory / files.policy)
    cfg = Config(directory=directory, gateway=gateway, policy=policy, detectors=detectors)
    _check_paths(cfg, gw_file)
    return cfg


def _check_rule_entities(policy: PolicyConfig, detectors: DetectorsSettings, policy_file: Path) -> None:
    """A rule naming an entity no detector reports can never fire (a typo such as ``UK_NHS_NUMBER``): refused,
    with the closest reported names."""
    vocabulary = detectors.entity_vocabulary()
    problems = []
    for i, rule in enumerate(policy.rules):
        for j, condition in enumerate(rule.when.entities):
            if condition.type not in vocabulary:
                problems.append(ConfigProblem(
                    str(policy_file), f"rules.{i}.when.entities.{j}.type",
                    f"rule {rule.id!r} names entity {condition.type!r}, which no detector reports, so the rule can "
                    f"never fire{did_you_mean(condition.type, vocabulary)}; the entities are detectors.yaml "
                    "report_entities",
                ))
    if problems:
        raise ConfigError(problems)


def _check_paths(cfg: Config, gw_file: Path) -> None:
    problems = []
    tls = cfg.gateway.server.tls
    if (tls.cert is None) != (tls.key is None):
        problems.append(ConfigProblem(str(gw_file), "server.tls", "set both cert and key, or neither"))
    for key, p in (("server.tls.cert", tls.cert), ("server.tls.key", tls.key),
                   ("server.auth.users_file", cfg.gateway.server.auth.users_file)):
        if p is not None and not cfg.resolve(p).is_file():
            problems.append(ConfigProblem(str(gw_file), key, f"file not found: {cfg.resolve(p)}"))
    enc = cfg.policy.encrypt
    uses_smarthost = enc.mode == "smarthost" or (enc.mode == "smime" and enc.smime.fallback == "smarthost")
    if uses_smarthost and not cfg.gateway.upstream.encryption_smarthost:
        problems.append(ConfigProblem(str(gw_file), "upstream.encryption_smarthost",
                                      "required by policy.yaml encrypt mode smarthost (or S/MIME fallback smarthost)"))
    if tls.required and tls.cert is None:
        problems.append(ConfigProblem(str(gw_file), "server.tls.required", "needs server.tls.cert and key"))
    exo = cfg.gateway.server.exchange_online
    if exo.enabled:
        if tls.cert is None:
            problems.append(ConfigProblem(str(gw_file), "server.exchange_online.tenant_id",
                                          "needs server.tls.cert and key (the connector's certificate comes with "
                                          "STARTTLS)"))
        if exo.ca_bundle is None:
            problems.append(ConfigProblem(str(gw_file), "server.exchange_online.ca_bundle",
                                          "needs a PEM file of the CAs that issue the connector's certificate"))
        elif not cfg.resolve(exo.ca_bundle).is_file():
            problems.append(ConfigProblem(str(gw_file), "server.exchange_online.ca_bundle",
                                          f"file not found: {cfg.resolve(exo.ca_bundle)}"))
    if problems:
        raise ConfigError(problems)
