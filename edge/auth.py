"""Optional OAuth2 bearer-token authentication at the ASGI edge (``TMF680_AUTH=jwt``).

Every request to a path under an API mount needs ``Authorization: Bearer <JWT>``, except the
mount's root (``edge.api_root``), ``docs`` page and ``openapi.json``; ``/health/*`` and ``/metrics``
are outside the mounts and stay open for probes and scrapers. The token is checked with PyJWT before Connexion routes,
parses or validates anything (so an anonymous caller cannot make the server read a large body):

- signature with a key of the issuer's JWKS (a file read at start-up, or a URL fetched and cached
  by ``jwt.PyJWKClient``), for the configured asymmetric algorithms only, where the key's own
  algorithm must be the token's (no ``none``, no HMAC with a public key as the secret);
- ``iss``, ``aud``, ``exp`` (required), ``nbf`` and ``iat`` with a small leeway;
- the read or write scope (``scope``/``scp`` claim) the method needs, when one is configured.

Failures leave as TMF ``Error`` bodies through ``edge.errors`` (so the access log and metrics see
them): 401 with an RFC 6750 ``WWW-Authenticate`` challenge, 403 ``insufficient_scope``, and 503
when the JWKS URL cannot be fetched. Nothing of the token is logged or echoed: the messages are
fixed texts.

With ``TMF680_AUTH_ROLES`` the roles the token carries (``TMF680_AUTH_ROLES_CLAIM``) must map,
through the stored TMF669 party roles (``services.party_roles.rights_of``), to the right the
method needs: ``read`` for GET/HEAD/OPTIONS, ``write`` for the others; else 403.

With ``TMF680_AUTH_RESTRICT_TO_PARTY`` the party named by the configured claim is put into the
ASGI scope (``PARTY_SCOPE_KEY``); handlers read it with ``edge.context.party()`` and the
services keep each party's queries and subscriptions to itself.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
import jwt
from connexion.middleware import MiddlewarePosition
from starlette.types import ASGIApp, Receive, Scope, Send

from edge.api_root import root_paths
from edge.auth_settings import AuthSettings
from edge.context import PARTY_SCOPE_KEY
from edge.errors import RequestRejected

log = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALWAYS_PUBLIC = frozenset({"/health/live", "/health/ready", "/metrics"})
JWKS_TIMEOUT_S = 5.0
MAX_TOKEN_BYTES = 16_384
MAX_PARTY_LENGTH = 256
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_SYMMETRIC = "oct"


class JwksError(ValueError):
    """A JWKS file that cannot verify anything (unreadable, not JSON, no usable key): the server must not start."""


class RoleRights(Protocol):
    """The rights (``read``, ``write``) a set of token roles holds (``PartyRoleService.rights``)."""

    def rights(self, roles: Iterable[str]) -> frozenset[str]: ...


class TokenRejected(Exception):
    """The bearer token is not acceptable (401 ``invalid_token``); the message is a fixed text."""


class KeysUnavailable(Exception):
    """The issuer's signing keys cannot be fetched right now (503)."""


class SigningKeys(Protocol):
    blocking: bool  # key look-ups may wait on the network: run them off the event loop

    def key_for(self, kid: str | None) -> jwt.PyJWK: ...


def load_jwk_set(path: Path) -> jwt.PyJWKSet:
    """The public signing keys of a JWKS file. Symmetric (``oct``) keys are dropped: a key that
    anyone holding the JWKS could sign with must never verify a token."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JwksError(f"TMF680_AUTH_JWKS: cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise JwksError(f"TMF680_AUTH_JWKS: {path} is not JSON: {exc}") from exc
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list):
        raise JwksError(f"TMF680_AUTH_JWKS: {path} is not a JWK set ({{\"keys\": [...]}})")
    public = [k for k in keys if isinstance(k, dict) and k.get("kty") != _SYMMETRIC and k.get("use", "sig") == "sig"]
    try:
        return jwt.PyJWKSet(public)
    except jwt.PyJWTError as exc:
        raise JwksError(f"TMF680_AUTH_JWKS: {path} has no usable signing key: {exc}") from exc


class FileKeys:
    """Keys of a JWKS file, read once at start-up (a rotation means a restart)."""

    blocking = False

    def __init__(self, jwk_set: jwt.PyJWKSet) -> None:
        self._keys = list(jwk_set.keys)
        self._by_kid = {k.key_id: k for k in self._keys if k.key_id}

    def key_for(self, kid: str | None) -> jwt.PyJWK:
        if kid is None:
            if len(self._keys) == 1:
                return self._keys[0]
            raise TokenRejected("the token names no signing key (kid)")
        try:
            return self._by_kid[kid]
        except KeyError:
            raise TokenRejected("the token's signing key (kid) is not one of the issuer's keys") from None


class UrlKeys:
    """Keys of a JWKS URL through ``jwt.PyJWKClient``: the set is cached for ``cache_s`` seconds, and
    a token with an unknown ``kid`` (a rotated key) refetches it, at most every min(cache_s, 30) s."""

    blocking = True

    def __init__(self, url: str, cache_s: int, timeout_s: float = JWKS_TIMEOUT_S) -> None:
        self.url = url
        self._client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=cache_s, timeout=timeout_s,
                                       cooldown_duration=min(cache_s, 30))

    def _unavailable(self, exc: Exception) -> KeysUnavailable:
        log.warning("the JWKS at %s cannot be used: %s", self.url, exc)
        return KeysUnavailable("the issuer's signing keys cannot be fetched; try again later")

    def key_for(self, kid: str | None) -> jwt.PyJWK:
        try:
            keys = [k for k in self._client.get_signing_keys() if k.key_type != _SYMMETRIC]
        except (jwt.PyJWTError, ValueError) as exc:  # unreachable, not JSON, no signing keys
            raise self._unavailable(exc) from exc
        if kid is None:
            if len(keys) == 1:
                return keys[0]
            raise TokenRejected("the token names no signing key (kid)")
        try:
            key = self._client.get_signing_key(kid)  # refetches once for an unknown kid
        except jwt.PyJWKClientConnectionError as exc:
            raise self._unavailable(exc) from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise TokenRejected("the token's signing key (kid) is not one of the issuer's keys") from exc
        if key.key_type == _SYMMETRIC:
            raise TokenRejected("the token's signing key (kid) is not one of the issuer's keys")
        return key


_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet (nbf or iat in the future)"),
    (jwt.InvalidIssuerError, "the token's issuer (iss) is not accepted"),
    (jwt.InvalidAudienceError, "the token is not meant for this API (aud)"),
    (jwt.InvalidAlgorithmError, "the token's signature algorithm is not accepted for its key"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.DecodeError, "the token is not a well-formed JWT"),
)


def _reason(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"the token has no {exc.claim} claim"
    for kind, text in _REASONS:
        if isinstance(exc, kind):
            return text
    return "the token is not valid"


class TokenVerifier:
    """Checks one bearer token and returns its claims (raises ``TokenRejected``/``KeysUnavailable``)."""

    def __init__(self, keys: SigningKeys, issuer: str, audience: Iterable[str], algorithms: Iterable[str],
                 leeway_s: int, required: Iterable[str] = ()) -> None:
        self.keys = keys
        self._issuer = issuer
        self._audience = list(audience)
        self._algorithms = list(algorithms)
        self._leeway = leeway_s
        self._require = ["exp", "iss", "aud", *required]

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected(_reason(exc)) from exc
        if header.get("alg") not in self._algorithms:  # none, HS*, or anything not configured
            raise TokenRejected("the token's signature algorithm is not accepted")
        kid = header.get("kid")
        key = self.keys.key_for(kid if isinstance(kid, str) else None)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key=key, algorithms=self._algorithms, audience=self._audience, issuer=self._issuer,
                leeway=self._leeway, options={"require": self._require},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(_reason(exc)) from exc
        return claims


def token_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """The scopes a token grants: ``scope`` (RFC 8693/9068, space-separated) and ``scp`` (a list or
    a space-separated string, as Azure AD and Okta issue it)."""
    found: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, str))
    return frozenset(found)


MAX_ROLES = 100


def token_roles(claims: Mapping[str, Any], claim: str) -> tuple[str, ...]:
    """The roles in ``claim`` (a dotted path reaches a nested claim, e.g. Keycloak's
    ``realm_access.roles``): a list of strings or one space-separated string; anything else, none."""
    value: Any = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str) and v)[:MAX_ROLES]


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header; None when there is no Bearer credential
    (no header, or another scheme); ``TokenRejected`` when the Bearer credential is malformed."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_BYTES or not _TOKEN68.fullmatch(token):
        raise TokenRejected("the Authorization header is not 'Bearer <token>'")
    return token


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    parts = ['realm="tmf680"']
    if error:
        parts.append(f"error={_quoted(error)}")
    if description:
        parts.append(f"error_description={_quoted(description)}")
    if scope:
        parts.append(f"scope={_quoted(scope)}")
    return "Bearer " + ", ".join(parts)


def unauthorized(description: str | None) -> RequestRejected:
    """401: no bearer credential (``description`` None: a bare challenge) or an invalid one."""
    if description is None:
        return RequestRejected(401, "this operation needs an OAuth2 bearer token (Authorization: Bearer ...)",
                               headers={"WWW-Authenticate": _challenge()})
    return RequestRejected(401, description,
                           headers={"WWW-Authenticate": _challenge("invalid_token", description)})


@dataclass(frozen=True)
class AccessPolicy:
    """Which paths need a token, which scope each method needs, and whose data a caller sees."""

    protected_prefixes: tuple[str, ...]
    public_paths: frozenset[str]
    public_static_prefixes: tuple[str, ...]
    read_scope: str = ""
    write_scope: str = ""
    party_claim: str | None = None  # set: restrict each party to its own resources
    roles_claim: str | None = None  # set: the token's roles must hold the method's right

    @classmethod
    def for_mounts(cls, mounts: Iterable[str], read_scope: str = "", write_scope: str = "",
                   party_claim: str | None = None, roles_claim: str | None = None) -> AccessPolicy:
        prefixes = tuple(m.rstrip("/") for m in mounts)
        public = set(ALWAYS_PUBLIC)
        for prefix in prefixes:  # edge.docs_page, edge.apis._serve_document and edge.api_root
            public.update({f"{prefix}/openapi.json", f"{prefix}/docs", f"{prefix}/docs/", *root_paths(prefix)})
        return cls(prefixes, frozenset(public), tuple(f"{p}/docs/static/" for p in prefixes),
                   read_scope, write_scope, party_claim, roles_claim)

    def protects(self, path: str) -> bool:
        if path in self.public_paths:
            return False
        for prefix in self.public_static_prefixes:
            if path.startswith(prefix) and "/" not in path[len(prefix):]:
                return False
        return any(path == p or path.startswith(p + "/") for p in self.protected_prefixes)

    @staticmethod
    def needed_right(method: str) -> str:
        return "read" if method.upper() in READ_METHODS else "write"

    def needed_scope(self, method: str) -> str:
        return self.read_scope if method.upper() in READ_METHODS else self.write_scope

    def party(self, claims: Mapping[str, Any]) -> str | None:
        """The caller's party id, when the per-party restriction is on."""
        if self.party_claim is None:
            return None
        value = claims.get(self.party_claim)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_PARTY_LENGTH:
            raise TokenRejected(f"the token's {self.party_claim} claim does not name a party")
        return value


class BearerAuth:
    """ASGI middleware: authenticate every protected request, then pass the party on in the scope."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier, policy: AccessPolicy,
                 rights: RoleRights | None = None) -> None:
        self.app = app
        self.verifier = verifier
        self.policy = policy
        self.rights = rights

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.policy.protects(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        party = await self.authenticate(str(scope.get("method", "GET")), _authorization(scope))
        if party is not None:
            scope = {**scope, PARTY_SCOPE_KEY: party}
        await self.app(scope, receive, send)

    async def authenticate(self, method: str, authorization: str | None) -> str | None:
        """The caller's party (None without the restriction); raises ``RequestRejected``."""
        claims, party = await identify(self.verifier, self.policy, authorization)
        require_scope(self.policy.needed_scope(method), claims)
        await self.check_role_rights(method, claims)
        return party

    async def check_role_rights(self, method: str, claims: Mapping[str, Any]) -> None:
        """With role rights on: a 403 unless a stored party role named by one of the token's roles
        grants the right the method needs (503 when the roles cannot be read)."""
        if self.policy.roles_claim is None or self.rights is None:
            return
        roles = token_roles(claims, self.policy.roles_claim)
        needed = self.policy.needed_right(method)
        try:
            granted = await anyio.to_thread.run_sync(self.rights.rights, roles) if roles else frozenset()
        except Exception as exc:  # the store: the caller may retry
            log.warning("party roles could not be read for authorisation: %s", exc)
            raise RequestRejected(503, "the party roles cannot be read; retry later") from None
        if needed not in granted:
            message = f"the token's roles grant no {needed} right (see the partyRole rights)"
            raise RequestRejected(403, message, headers={
                "WWW-Authenticate": _challenge("insufficient_scope", message)})


async def identify(verifier: TokenVerifier, policy: AccessPolicy,
                   authorization: str | None) -> tuple[dict[str, Any], str | None]:
    """The claims of the request's valid bearer token and the caller's party (None without the
    restriction); raises ``RequestRejected`` (401, or 503 when the keys cannot be fetched)."""
    try:
        token = bearer_token(authorization)
        if token is None:
            raise unauthorized(None)
        if verifier.keys.blocking:
            claims = await anyio.to_thread.run_sync(verifier.verify, token)
        else:
            claims = verifier.verify(token)
        return claims, policy.party(claims)
    except TokenRejected as exc:
        raise unauthorized(str(exc)) from None
    except KeysUnavailable as exc:
        raise RequestRejected(503, str(exc)) from None


def require_scope(needed: str, claims: Mapping[str, Any]) -> None:
    """403 ``insufficient_scope`` unless the token grants ``needed`` (nothing needed when empty)."""
    if needed and needed not in token_scopes(claims):
        message = f"the token lacks the {needed} scope this operation needs"
        raise RequestRejected(403, message, headers={
            "WWW-Authenticate": _challenge("insufficient_scope", message, needed)})


def _authorization(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == b"authorization":
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


def build_verifier(settings: AuthSettings) -> TokenVerifier:
    source = settings.auth_jwks
    keys: SigningKeys = (UrlKeys(source, settings.auth_jwks_cache_s) if "://" in source
                         else FileKeys(load_jwk_set(Path(source))))
    required = (settings.auth_party_claim,) if settings.restrict_to_party else ()
    return TokenVerifier(keys, settings.auth_issuer, settings.auth_audience, settings.auth_algorithms,
                         settings.auth_leeway_s, required)


def install_auth(app: Any, settings: AuthSettings, other_mounts: Iterable[str] = (),
                 rights: RoleRights | None = None) -> None:
    """Add ``BearerAuth`` in front of Connexion's routing when ``TMF680_AUTH=jwt``; nothing otherwise.

    ``other_mounts``: the mounts of the other documents (the TMF620/TMF637/TMF622 listeners, which
    change the catalogue and the holdings: a hub POSTs its events with a token too; TMF669's).
    ``rights``: where token roles are mapped (with ``TMF680_AUTH_ROLES``).
    Call before the body guard is added, so an unauthenticated request is refused before its body
    is read."""
    if settings.auth != "jwt":
        return
    policy = AccessPolicy.for_mounts(
        (*settings.mount_paths, *other_mounts), settings.auth_read_scope, settings.auth_write_scope,
        settings.auth_party_claim if settings.restrict_to_party else None,
        settings.auth_roles_claim if settings.role_rights else None,
    )
    app.add_middleware(BearerAuth, position=MiddlewarePosition.BEFORE_ROUTING,
                       verifier=build_verifier(settings), policy=policy, rights=rights)
