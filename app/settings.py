"""Settings: one immutable object read from the environment, validated at start-up."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BASE_PATH = "/tmf-api/recommendationManagement/v4"
LEGACY_BASE_PATH = "/customer/v4"
PARTY_ROLE_BASE_PATH = "/tmf-api/partyRoleManagement/v4"
DEFAULT_MCP_PATH = "/mcp"


class SettingsError(ValueError):
    """A setting has a value the server cannot start with."""


CONFIG_ENV = "TMF680_CONFIG"


@dataclass(frozen=True)
class EnvVar:
    name: str
    default: str
    help: str


# Every setting, its environment variable, default and meaning: the README table is made from this.
ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar("MONGODB_URI", "", "MongoDB connection string; empty starts the embedded mongod (serve only)"),
    EnvVar("TMF680_DB_NAME", "tmf680", "MongoDB database name"),
    EnvVar("TMF680_BASE_PATH", DEFAULT_BASE_PATH, "Base path the API is mounted at"),
    EnvVar("TMF680_LEGACY_BASE_PATH", LEGACY_BASE_PATH,
           "Second mount (the document's own basePath); empty disables it"),
    EnvVar("TMF680_PARTY_ROLE_BASE_PATH", PARTY_ROLE_BASE_PATH,
           "Base path the TMF669 Party Role Management API is mounted at"),
    EnvVar("TMF680_CANVAS_SYSTEM_ROLE", "Admin",
           "Name of the party role the server makes sure exists at start (with read and write rights), "
           "for an ODA Canvas; empty: none"),
    EnvVar("TMF680_PUBLIC_URL", "",
           "Absolute URL prefix for href/Location (e.g. https://api.example.com); empty uses the request's host"),
    EnvVar("TMF680_DATA_DIR", ".tmf680", "Directory of the embedded mongod's data (kept across restarts)"),
    EnvVar("TMF680_MAX_BODY_BYTES", "1048576", "Largest accepted request body, in bytes (413 above)"),
    EnvVar("TMF680_MAX_LIMIT", "1000", "Most items one list response returns (safety cap)"),
    EnvVar("TMF680_MONGO_TIMEOUT_MS", "5000", "How long a request waits for MongoDB before failing with 503"),
    EnvVar("TMF680_QUERY_TIMEOUT_MS", "5000", "Server-side time limit of one list query (maxTimeMS)"),
    EnvVar("TMF680_WRITE_CONCERN", "1",
           "Write concern of every write: a number of nodes or `majority` (replica sets); a 201 means written"),
    EnvVar("TMF680_VALIDATE_RESPONSES", "false", "Validate every response against the spec (tests; costs time)"),
    EnvVar("TMF680_LOG_LEVEL", "INFO", "Log level"),
    EnvVar("TMF680_LOG_FORMAT", "json", "Log format: json (one JSON object per line) or text"),
    EnvVar("TMF680_ACCESS_LOG_LEVEL", "INFO",
           "Level of the one-line-per-request access log (tmf680.access): INFO logs every request, "
           "WARNING only failures (5xx), CRITICAL none"),
    EnvVar("TMF680_METRICS", "true",
           "Serve Prometheus metrics at /metrics (several workers: set PROMETHEUS_MULTIPROC_DIR)"),
    EnvVar("TMF680_RECOMMENDATION_LIMIT", "5", "How many offerings a recommendation lists at most"),
    EnvVar("TMF680_MODEL_REFRESH_S", "5", "How often (seconds) a server looks for a new catalogue or model version"),
    EnvVar("TMF680_MODEL_CACHE_DIR", "",
           "Writable directory where the workers of a machine share one copy of the model (mapped files, "
           "one sub-directory per database); empty: `model-cache` under TMF680_DATA_DIR"),
    EnvVar("TMF680_WORKERS", "true",
           "Run the task and delivery workers inside every server process (false: only `tmf680 worker` runs them)"),
    EnvVar("TMF680_POLL_MS", "200", "How often an idle worker looks for tasks, events and due deliveries"),
    EnvVar("TMF680_TASK_LEASE_S", "30", "How long a worker holds a task before another may take it over"),
    EnvVar("TMF680_DELIVERY_TIMEOUT_S", "5", "Timeout of one event POST to a callback"),
    EnvVar("TMF680_DELIVERY_RETRY_S", "3600",
           "How long a failing delivery is retried (exponential backoff) before it is given up"),
    EnvVar("TMF680_CALLBACK_ALLOW", "",
           "Comma-separated hosts, IPs or CIDRs callbacks may use although they are loopback/private/link-local"),
    EnvVar("TMF680_RETRAIN_AFTER", "1000",
           "Retrain when this many history documents (TMF637 products, TMF622 orders) were written or removed "
           "since the model's snapshot; 0: never by count"),
    EnvVar("TMF680_RETRAIN_EVERY_S", "3600",
           "Retrain when the model is this old and the history changed at all; 0: never by age"),
    EnvVar("TMF680_RETRAIN_IN_SERVER", "false",
           "Also retrain inside server processes (with TMF680_WORKERS); false: only `tmf680 worker` retrains"),
    EnvVar("TMF680_TRAIN_LEASE_S", "120",
           "The trainer's lease in MongoDB (one trainer at a time), renewed every third of it while it trains"),
    EnvVar("TMF680_TASK_DELAY_MS", "0", "Testing knob: extra time a worker spends on each asynchronous task"),
    EnvVar("TMF680_MCP", "true",
           "Serve the MCP (Model Context Protocol) endpoint for AI agents beside the API (see MCP endpoint)"),
    EnvVar("TMF680_MCP_PATH", DEFAULT_MCP_PATH, "Path of the MCP endpoint (streamable HTTP); outside the API mounts"),
    EnvVar("TMF680_AUTH", "off",
           "`off` or `jwt`: every API operation then needs an OAuth2 bearer JWT (see Authentication)"),
    EnvVar("TMF680_AUTH_JWKS", "",
           "The issuer's signing keys: a JWKS file read at start-up, or an https URL (http only on loopback)"),
    EnvVar("TMF680_AUTH_ISSUER", "", "Required `iss` of tokens"),
    EnvVar("TMF680_AUTH_AUDIENCE", "", "Accepted `aud` values of tokens (comma-separated: any of them)"),
    EnvVar("TMF680_AUTH_ALGORITHMS", "RS256,ES256",
           "Accepted signature algorithms (RS*, PS*, ES*, EdDSA; never none or HS*)"),
    EnvVar("TMF680_AUTH_LEEWAY_S", "30", "Clock skew allowed on `exp`, `nbf` and `iat`, in seconds"),
    EnvVar("TMF680_AUTH_JWKS_CACHE_S", "300",
           "How long a fetched JWKS URL is cached; an unknown `kid` refetches it at most every "
           "min(this, 30) seconds"),
    EnvVar("TMF680_AUTH_READ_SCOPE", "", "Scope (`scope`/`scp` claim) GET operations need; empty: none"),
    EnvVar("TMF680_AUTH_WRITE_SCOPE", "", "Scope POST and DELETE operations need; empty: none"),
    EnvVar("TMF680_AUTH_PARTY_CLAIM", "sub", "Claim naming the calling party (channel) for the per-party restriction"),
    EnvVar("TMF680_AUTH_ROLES", "false",
           "With TMF680_AUTH=jwt: a token's roles must also map, through the stored party roles, to the "
           "read (GET) or write right the operation needs"),
    EnvVar("TMF680_AUTH_ROLES_CLAIM", "roles",
           "Claim holding a token's roles: a list or a space-separated string; a dotted path reaches a "
           "nested one (realm_access.roles)"),
    EnvVar("TMF680_AUTH_RESTRICT_TO_PARTY", "false",
           "With TMF680_AUTH=jwt: a party sees only the queries it created, and unregisters and gets events "
           "only through its own hub subscriptions"),
)

AUTH_MODES = ("off", "jwt")
# Asymmetric algorithms only: a JWKS holds public keys, and "none" or HMAC with a public key as the
# secret would let anyone mint tokens.
AUTH_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def _int(env: Mapping[str, str], name: str, default: str, minimum: int) -> int:
    raw = env.get(name, default).strip() or default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: str) -> bool:
    raw = env.get(name, default).strip().lower() or default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _base_path(env: Mapping[str, str], name: str, default: str, allow_empty: bool) -> str:
    raw = env.get(name, default).strip()
    if not raw:
        if allow_empty:
            return ""
        raise SettingsError(f"{name} must not be empty")
    if not raw.startswith("/") or "?" in raw or "#" in raw or " " in raw:
        raise SettingsError(f"{name} must be a path starting with '/', got {raw!r}")
    return raw.rstrip("/") or "/"


def _mcp_path(env: Mapping[str, str], mounts: tuple[str, ...]) -> str:
    """The MCP endpoint's path: not ``/``, and neither inside nor around an API mount (the API's
    routes and the mounts' authentication must stay as they are)."""
    path = _base_path(env, "TMF680_MCP_PATH", DEFAULT_MCP_PATH, allow_empty=False)
    for mount in (m for m in mounts if m):
        if path in ("/", mount) or mount.startswith(path + "/") or path.startswith(mount + "/"):
            raise SettingsError(f"TMF680_MCP_PATH must be outside the API mount {mount!r}, got {path!r}")
    if path in {"/metrics", "/health"} or path.startswith("/health/"):
        raise SettingsError(f"TMF680_MCP_PATH must not be a probe or metrics path, got {path!r}")
    return path


def _write_concern(raw: str) -> str:
    value = raw.strip() or "1"
    if value != "majority" and not (value.isdigit() and int(value) >= 1):
        raise SettingsError(f"TMF680_WRITE_CONCERN must be a number of nodes (1 or more) or majority, got {raw!r}")
    return value


def _callback_allow(raw: str) -> str:
    from services.callback_policy import CallbackPolicy

    try:
        CallbackPolicy.from_setting(raw)
    except ValueError as exc:
        raise SettingsError(f"TMF680_CALLBACK_ALLOW: {exc}") from exc
    return raw.strip()


def _csv(env: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, default).split(",") if part.strip())


def _jwks(raw: str) -> str:
    """A JWKS URL (https; http only for a loopback host) or a readable JWKS file with a usable key."""
    from urllib.parse import urlsplit

    value = raw.strip()
    if not value:
        raise SettingsError("TMF680_AUTH=jwt needs TMF680_AUTH_JWKS (a JWKS file or https URL)")
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.hostname:
            return value
        if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
            return value
        raise SettingsError(f"TMF680_AUTH_JWKS must be an https URL (http only on loopback) or a file, got {value!r}")
    from edge.auth import JwksError, load_jwk_set

    try:
        load_jwk_set(Path(value))  # a missing, unreadable or key-less file stops the start
    except JwksError as exc:
        raise SettingsError(str(exc)) from exc
    return value


def _auth(env: Mapping[str, str]) -> dict[str, object]:
    """The ``auth_*`` fields. With ``TMF680_AUTH=jwt`` the issuer, audience and keys are required:
    a server that would accept tokens from anyone must not start."""
    mode = env.get("TMF680_AUTH", "off").strip().lower() or "off"
    if mode not in AUTH_MODES:
        raise SettingsError(f"TMF680_AUTH must be off or jwt, got {mode!r}")
    algorithms = _csv(env, "TMF680_AUTH_ALGORITHMS", "RS256,ES256")
    refused = [a for a in algorithms if a not in AUTH_ALGORITHMS]
    if refused or not algorithms:
        raise SettingsError(f"TMF680_AUTH_ALGORITHMS: {', '.join(refused) or 'empty'} not accepted; "
                            f"choose from {', '.join(AUTH_ALGORITHMS)} (none and HS* are refused)")
    party_claim = env.get("TMF680_AUTH_PARTY_CLAIM", "sub").strip() or "sub"
    fields: dict[str, object] = {
        "auth": mode,
        "auth_jwks": env.get("TMF680_AUTH_JWKS", "").strip(),
        "auth_issuer": env.get("TMF680_AUTH_ISSUER", "").strip(),
        "auth_audience": _csv(env, "TMF680_AUTH_AUDIENCE", ""),
        "auth_algorithms": algorithms,
        "auth_leeway_s": _int(env, "TMF680_AUTH_LEEWAY_S", "30", 0),
        "auth_jwks_cache_s": _int(env, "TMF680_AUTH_JWKS_CACHE_S", "300", 1),
        "auth_read_scope": env.get("TMF680_AUTH_READ_SCOPE", "").strip(),
        "auth_write_scope": env.get("TMF680_AUTH_WRITE_SCOPE", "").strip(),
        "auth_party_claim": party_claim,
        "auth_restrict_to_party": _bool(env, "TMF680_AUTH_RESTRICT_TO_PARTY", "false"),
        "auth_roles": _bool(env, "TMF680_AUTH_ROLES", "false"),
        "auth_roles_claim": env.get("TMF680_AUTH_ROLES_CLAIM", "roles").strip() or "roles",
    }
    if mode == "jwt":
        if not fields["auth_issuer"]:
            raise SettingsError("TMF680_AUTH=jwt needs TMF680_AUTH_ISSUER (the tokens' iss)")
        if not fields["auth_audience"]:
            raise SettingsError("TMF680_AUTH=jwt needs TMF680_AUTH_AUDIENCE (this API's aud)")
        fields["auth_jwks"] = _jwks(str(fields["auth_jwks"]))
    for name in ("TMF680_AUTH_READ_SCOPE", "TMF680_AUTH_WRITE_SCOPE", "TMF680_AUTH_PARTY_CLAIM",
                 "TMF680_AUTH_ROLES_CLAIM"):
        if " " in env.get(name, "").strip():
            raise SettingsError(f"{name} must be one name without spaces")
    return fields


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str = ""
    db_name: str = "tmf680"
    base_path: str = DEFAULT_BASE_PATH
    legacy_base_path: str = LEGACY_BASE_PATH
    party_role_base_path: str = PARTY_ROLE_BASE_PATH
    canvas_system_role: str = "Admin"
    public_url: str = ""
    data_dir: Path = field(default_factory=lambda: Path(".tmf680"))
    max_body_bytes: int = 1_048_576
    max_limit: int = 1000
    mongo_timeout_ms: int = 5000
    query_timeout_ms: int = 5000
    write_concern: str = "1"
    validate_responses: bool = False
    log_level: str = "INFO"
    log_format: str = "json"
    access_log_level: str = "INFO"
    metrics: bool = True
    recommendation_limit: int = 5
    model_refresh_s: int = 5
    model_cache_dir: Path | None = None
    workers: bool = True
    poll_ms: int = 200
    task_lease_s: int = 30
    delivery_timeout_s: int = 5
    delivery_retry_s: int = 3600
    callback_allow: str = ""
    retrain_after: int = 1000
    retrain_every_s: int = 3600
    retrain_in_server: bool = False
    train_lease_s: int = 120
    task_delay_ms: int = 0
    mcp: bool = True
    mcp_path: str = DEFAULT_MCP_PATH
    auth: str = "off"
    auth_jwks: str = ""
    auth_issuer: str = ""
    auth_audience: tuple[str, ...] = ()
    auth_algorithms: tuple[str, ...] = ("RS256", "ES256")
    auth_leeway_s: int = 30
    auth_jwks_cache_s: int = 300
    auth_read_scope: str = ""
    auth_write_scope: str = ""
    auth_party_claim: str = "sub"
    auth_restrict_to_party: bool = False
    auth_roles: bool = False
    auth_roles_claim: str = "roles"

    @property
    def model_cache_path(self) -> Path:
        """This database's directory of the machine's model file cache."""
        return (self.model_cache_dir or self.data_dir / "model-cache") / self.db_name

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = {v.name: v.default for v in ENV_VARS}
        base = _base_path(env, "TMF680_BASE_PATH", defaults["TMF680_BASE_PATH"], allow_empty=False)
        legacy = _base_path(env, "TMF680_LEGACY_BASE_PATH", defaults["TMF680_LEGACY_BASE_PATH"],
                            allow_empty=True)
        if legacy == base:
            legacy = ""
        party_role = _base_path(env, "TMF680_PARTY_ROLE_BASE_PATH", defaults["TMF680_PARTY_ROLE_BASE_PATH"],
                                allow_empty=False)
        if party_role in (base, legacy):
            raise SettingsError(f"TMF680_PARTY_ROLE_BASE_PATH must differ from the TMF680 mounts, got {party_role!r}")
        system_role = env.get("TMF680_CANVAS_SYSTEM_ROLE", "Admin").strip()
        if len(system_role) > 256:
            raise SettingsError("TMF680_CANVAS_SYSTEM_ROLE must be at most 256 characters")
        public_url = env.get("TMF680_PUBLIC_URL", "").strip().rstrip("/")
        if public_url and not public_url.startswith(("http://", "https://")):
            raise SettingsError(f"TMF680_PUBLIC_URL must be an absolute http(s) URL, got {public_url!r}")
        db_name = env.get("TMF680_DB_NAME", "tmf680").strip() or "tmf680"
        if any(c in db_name for c in '/\\. "$') or len(db_name) > 63:
            raise SettingsError(f"TMF680_DB_NAME is not a valid MongoDB database name: {db_name!r}")
        level = env.get("TMF680_LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise SettingsError(f"TMF680_LOG_LEVEL must be a log level name, got {level!r}")
        log_format = env.get("TMF680_LOG_FORMAT", "json").strip().lower() or "json"
        if log_format not in {"json", "text"}:
            raise SettingsError(f"TMF680_LOG_FORMAT must be json or text, got {log_format!r}")
        access_level = env.get("TMF680_ACCESS_LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if access_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise SettingsError(f"TMF680_ACCESS_LOG_LEVEL must be a log level name, got {access_level!r}")
        return cls(
            mongodb_uri=env.get("MONGODB_URI", "").strip(),
            db_name=db_name,
            base_path=base,
            legacy_base_path=legacy,
            party_role_base_path=party_role,
            canvas_system_role=system_role,
            public_url=public_url,
            data_dir=Path(env.get("TMF680_DATA_DIR", ".tmf680").strip() or ".tmf680"),
            max_body_bytes=_int(env, "TMF680_MAX_BODY_BYTES", "1048576", 1024),
            max_limit=_int(env, "TMF680_MAX_LIMIT", "1000", 1),
            mongo_timeout_ms=_int(env, "TMF680_MONGO_TIMEOUT_MS", "5000", 100),
            query_timeout_ms=_int(env, "TMF680_QUERY_TIMEOUT_MS", "5000", 100),
            write_concern=_write_concern(env.get("TMF680_WRITE_CONCERN", "1")),
            validate_responses=_bool(env, "TMF680_VALIDATE_RESPONSES", "false"),
            log_level=level,
            log_format=log_format,
            access_log_level=access_level,
            metrics=_bool(env, "TMF680_METRICS", "true"),
            recommendation_limit=_int(env, "TMF680_RECOMMENDATION_LIMIT", "5", 1),
            model_refresh_s=_int(env, "TMF680_MODEL_REFRESH_S", "5", 0),
            model_cache_dir=Path(cache) if (cache := env.get("TMF680_MODEL_CACHE_DIR", "").strip()) else None,
            workers=_bool(env, "TMF680_WORKERS", "true"),
            poll_ms=_int(env, "TMF680_POLL_MS", "200", 10),
            task_lease_s=_int(env, "TMF680_TASK_LEASE_S", "30", 1),
            delivery_timeout_s=_int(env, "TMF680_DELIVERY_TIMEOUT_S", "5", 1),
            delivery_retry_s=_int(env, "TMF680_DELIVERY_RETRY_S", "3600", 0),
            callback_allow=_callback_allow(env.get("TMF680_CALLBACK_ALLOW", "")),
            retrain_after=_int(env, "TMF680_RETRAIN_AFTER", "1000", 0),
            retrain_every_s=_int(env, "TMF680_RETRAIN_EVERY_S", "3600", 0),
            retrain_in_server=_bool(env, "TMF680_RETRAIN_IN_SERVER", "false"),
            train_lease_s=_int(env, "TMF680_TRAIN_LEASE_S", "120", 3),
            task_delay_ms=_int(env, "TMF680_TASK_DELAY_MS", "0", 0),
            mcp=_bool(env, "TMF680_MCP", "true"),
            mcp_path=_mcp_path(env, (base, legacy)),
            **_auth(env),  # type: ignore[arg-type]
        )

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from the environment, over the optional TOML file named by ``TMF680_CONFIG``."""
        env = os.environ if env is None else env
        path = env.get(CONFIG_ENV, "").strip()
        merged = {**read_config_file(Path(path)), **env} if path else dict(env)
        return cls.from_env(merged)

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def restrict_to_party(self) -> bool:
        """Per-party restriction in force: it needs authenticated parties, so only with auth on."""
        return self.auth == "jwt" and self.auth_restrict_to_party

    @property
    def role_rights(self) -> bool:
        """Token roles mapped to rights through the stored party roles: only with auth on."""
        return self.auth == "jwt" and self.auth_roles

    @property
    def mount_paths(self) -> tuple[str, ...]:
        """TMF680's mounts."""
        return (self.base_path, self.legacy_base_path) if self.legacy_base_path else (self.base_path,)

    @property
    def party_role_mounts(self) -> tuple[str, ...]:
        """TMF669's mount."""
        return (self.party_role_base_path,)

    @property
    def all_mounts(self) -> tuple[str, ...]:
        """Every API mount (authentication protects each)."""
        return (*self.mount_paths, *self.party_role_mounts)


def read_config_file(path: Path) -> dict[str, str]:
    """A TOML file of settings named as their environment variables (``TMF680_MAX_LIMIT = 500``)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{CONFIG_ENV}: cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{CONFIG_ENV}: {path} is not valid TOML: {exc}") from exc
    known = {v.name for v in ENV_VARS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(f"{CONFIG_ENV}: {path} has unknown settings {', '.join(unknown)}; "
                            f"known: {', '.join(sorted(known))}")
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            out[key] = str(value)
        else:
            raise SettingsError(f"{CONFIG_ENV}: {key} in {path} must be a string, number or boolean")
    return out
