"""A throw-away OAuth2 issuer for the auth tests: RSA and EC keys made with ``cryptography``, their
JWKS, and tokens signed with PyJWT."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://idp.example.com/realms/csp"
AUDIENCE = "tmf680"


class Issuer:
    def __init__(self, issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys: dict[str, Any] = {}  # kid → private key
        self.algs: dict[str, str] = {}

    def add_rsa(self, kid: str) -> Issuer:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.algs[kid] = "RS256"
        return self

    def add_ec(self, kid: str) -> Issuer:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        self.algs[kid] = "ES256"
        return self

    def jwk(self, kid: str) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algs[kid])
        public = json.loads(algorithm.to_jwk(self.keys[kid].public_key()))
        return {**public, "kid": kid, "use": "sig"}

    def jwks(self, *kids: str) -> dict[str, Any]:
        return {"keys": [self.jwk(kid) for kid in (kids or tuple(self.keys))]}

    def write_jwks(self, path: Path, *kids: str) -> Path:
        path.write_text(json.dumps(self.jwks(*kids)))
        return path

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.audience, "sub": "web-shop", "iat": now, "exp": now + 300,
                  "scope": "tmf680.read tmf680.write"}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, kid: str | None = None, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        """A token signed with ``kid``'s key (the first key by default); ``claims`` override the
        defaults (a None value drops the claim)."""
        kid = kid or next(iter(self.keys))
        return jwt.encode(self.claims(**claims), self.keys[kid], algorithm=self.algs[kid],
                          headers={"kid": kid, **(headers or {})})

    def bearer(self, kid: str | None = None, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(kid, **claims)}"}
