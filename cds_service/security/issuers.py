"""Trusted JWT issuers of CDS clients (`CDS_TRUSTED_ISSUERS`, a JSON or YAML file).

Shape (every field but `iss` optional)::

    {"issuers": [{"iss": "https://ehr.example.org",
                  "jwks_file": "keys/ehr.jwks.json",          # relative to this file
                  "jwks": {"keys": [ ...public JWKs... ]},
                  "jku": ["https://ehr.example.org/.well-known/jwks.json"],
                  "tenants": ["t1"],
                  "profile": "epic",                            # client profile of the responses
                  "audiences": ["https://cds.example.org/hooks"]}]}  # accepted `aud` values, besides the URL

`profile` (default `generic`) says which client profile shapes the responses to this issuer's calls;
`audiences` lists `aud` values accepted in addition to the URL computed from `CDS_PUBLIC_BASE_URL` (Epic's
`aud` is whatever the analyst typed into its configuration).

Keys given in `jwks_file`/`jwks` are trusted as they are; a JWT header `jku` is fetched only when that
exact URL is listed in the issuer's `jku`. Only public signing keys are accepted: a file holding a private
or symmetric key is refused at start-up, so a leaked secret is noticed instead of silently trusted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import yaml

logger = logging.getLogger(__name__)

_ENTRY_FIELDS = frozenset({"iss", "jwks_file", "jwks", "jku", "tenants", "profile", "audiences"})
CLIENT_PROFILES = ("generic", "sandbox", "epic", "oracle")  # cds_service.profiles (a public contract)
# JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_ASYMMETRIC_KTY = frozenset({"EC", "RSA", "OKP"})
_EC_CURVE_ALG = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


class PublicJwk:
    """A validated public signing JWK; `for_alg` gives the PyJWK to verify a token of a given `alg`.

    A key pinned with `alg` serves only that algorithm. Otherwise the algorithm must fit the key: an EC
    key its curve's ES* algorithm, an RSA key RS*/PS*, an OKP key EdDSA.
    """

    def __init__(self, jwk: dict[str, Any]) -> None:
        self.jwk = dict(jwk)
        self.kid: str = jwk["kid"]
        self.pinned_alg: str | None = jwk.get("alg")
        self._by_alg: dict[str, jwt.PyJWK] = {}
        jwt.PyJWK(self.jwk)  # raises if the key cannot be loaded at all

    def fits(self, alg: str) -> bool:
        if self.pinned_alg is not None:
            return alg == self.pinned_alg
        kty = self.jwk.get("kty")
        if kty == "EC":
            return _EC_CURVE_ALG.get(self.jwk.get("crv", "")) == alg
        if kty == "RSA":
            return alg[:2] in {"RS", "PS"}
        return kty == "OKP" and alg == "EdDSA"

    def for_alg(self, alg: str) -> jwt.PyJWK | None:
        if not self.fits(alg):
            return None
        key = self._by_alg.get(alg)
        if key is None:
            try:
                key = jwt.PyJWK(self.jwk, algorithm=alg)
            except (jwt.PyJWTError, ValueError, TypeError):
                return None
            self._by_alg[alg] = key
        return key

    def __repr__(self) -> str:
        return f"PublicJwk(kid={self.kid!r}, kty={self.jwk.get('kty')!r}, alg={self.pinned_alg!r})"


@dataclass(frozen=True)
class TrustedIssuer:
    """One trusted issuer: its pinned keys (by `kid`), allowlisted `jku` URLs and allowed tenants."""

    iss: str
    keys: Mapping[str, PublicJwk] = field(default_factory=dict)
    jku: tuple[str, ...] = ()
    tenants: frozenset[str] | None = None  # None: any (or no) tenant
    profile: str = "generic"  # client profile of the responses (cds_service.profiles)
    audiences: tuple[str, ...] = ()  # accepted `aud` values besides the computed endpoint URL


@dataclass(frozen=True)
class TrustedIssuers:
    issuers: Mapping[str, TrustedIssuer]
    source: str = "<inline>"

    def get(self, iss: str) -> TrustedIssuer | None:
        return self.issuers.get(iss)

    def __len__(self) -> int:
        return len(self.issuers)


def public_key_problem(jwk: Any) -> str | None:
    """Why `jwk` cannot be used as a public signing key, or None when it can."""
    if not isinstance(jwk, dict):
        return "a key must be a JSON object"
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        return "a key has no `kid` (tokens select their key by `kid`)"
    if jwk.get("kty") not in _ASYMMETRIC_KTY:
        return f"key {kid!r}: kty {jwk.get('kty')!r} is not an asymmetric key type (EC, RSA, OKP)"
    private = sorted(_PRIVATE_MEMBERS & jwk.keys())
    if private:
        return f"key {kid!r} contains private key material ({', '.join(private)}): publish only public keys"
    if jwk.get("use", "sig") != "sig":
        return f"key {kid!r}: `use` is {jwk.get('use')!r}, not 'sig'"
    return None


def parse_jwks(data: Any, *, where: str) -> dict[str, PublicJwk]:
    """Parse a JWK Set of public signing keys into `{kid: PublicJwk}` (ValueError naming `where`)."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError(f"{where}: a JWK Set must be an object with a `keys` list")
    keys: dict[str, PublicJwk] = {}
    for jwk in data["keys"]:
        problem = public_key_problem(jwk)
        if problem:
            raise ValueError(f"{where}: {problem}")
        kid = jwk["kid"]
        if kid in keys:
            raise ValueError(f"{where}: duplicate kid {kid!r}")
        try:
            keys[kid] = PublicJwk(jwk)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{where}: key {kid!r} cannot be loaded: {exc}") from None
    return keys


def _check_jku(url: Any, where: str) -> str:
    if not isinstance(url, str) or not url:
        raise ValueError(f"{where}: each jku must be a URL string")
    parts = urlsplit(url)
    loopback = parts.hostname in {"localhost", "127.0.0.1", "::1"}
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValueError(f"{where}: jku {url!r} must be an https URL (http only on loopback)")
    if not parts.hostname:
        raise ValueError(f"{where}: jku {url!r} has no host")
    return url


def parse_trusted_issuers(data: Any, *, base_dir: Path, source: str = "<inline>") -> TrustedIssuers:
    """Validate the decoded configuration `data`; relative `jwks_file`s are resolved against `base_dir`."""
    if not isinstance(data, dict) or not isinstance(data.get("issuers"), list):
        raise ValueError(f"{source}: expected an object with an `issuers` list")
    unknown_top = set(data) - {"issuers"}
    if unknown_top:
        raise ValueError(f"{source}: unknown top-level field(s) {sorted(unknown_top)}")
    issuers: dict[str, TrustedIssuer] = {}
    for i, entry in enumerate(data["issuers"]):
        where = f"{source}: issuers[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be an object")
        unknown = set(entry) - _ENTRY_FIELDS
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_ENTRY_FIELDS)}")
        iss = entry.get("iss")
        if not isinstance(iss, str) or not iss:
            raise ValueError(f"{where}: `iss` is required (the issuer URI, compared exactly)")
        if iss in issuers:
            raise ValueError(f"{where}: issuer {iss!r} is listed twice")
        where = f"{source}: issuer {iss!r}"

        keys: dict[str, PublicJwk] = {}
        jwks_file = entry.get("jwks_file")
        if jwks_file is not None:
            if not isinstance(jwks_file, str) or not jwks_file:
                raise ValueError(f"{where}: `jwks_file` must be a path string")
            path = Path(jwks_file)
            if not path.is_absolute():
                path = base_dir / path
            try:
                file_data = json.loads(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise ValueError(f"{where}: cannot read jwks_file {str(path)!r}: {exc.strerror}") from None
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: jwks_file {str(path)!r} is not valid JSON: {exc}") from None
            keys.update(parse_jwks(file_data, where=f"{where}: jwks_file {str(path)!r}"))
        if entry.get("jwks") is not None:
            for kid, key in parse_jwks(entry["jwks"], where=f"{where}: jwks").items():
                if kid in keys:
                    raise ValueError(f"{where}: kid {kid!r} is in both jwks_file and jwks")
                keys[kid] = key

        jku_raw = entry.get("jku", [])
        if isinstance(jku_raw, str):
            jku_raw = [jku_raw]
        if not isinstance(jku_raw, list):
            raise ValueError(f"{where}: `jku` must be a list of URLs")
        jku = tuple(_check_jku(url, where) for url in jku_raw)

        tenants: frozenset[str] | None = None
        if entry.get("tenants") is not None:
            raw = entry["tenants"]
            if not isinstance(raw, list) or not all(isinstance(t, str) and t for t in raw):
                raise ValueError(f"{where}: `tenants` must be a list of non-empty strings")
            tenants = frozenset(raw)

        profile = entry.get("profile", "generic")
        if profile not in CLIENT_PROFILES:
            raise ValueError(f"{where}: `profile` must be one of {', '.join(CLIENT_PROFILES)}; got {profile!r}")
        audiences_raw = entry.get("audiences", [])
        if isinstance(audiences_raw, str):
            audiences_raw = [audiences_raw]
        if not isinstance(audiences_raw, list) or not all(isinstance(a, str) and a for a in audiences_raw):
            raise ValueError(f"{where}: `audiences` must be a list of non-empty strings (the `aud` values the "
                             "EHR sends, e.g. the URL typed into its configuration)")

        if not keys and not jku:
            raise ValueError(f"{where}: no keys: give `jwks_file`, `jwks` or an allowlisted `jku`")
        issuers[iss] = TrustedIssuer(iss=iss, keys=keys, jku=jku, tenants=tenants, profile=profile,
                                     audiences=tuple(audiences_raw))
    if not issuers:
        logger.warning("%s lists no trusted issuer: every authenticated call will be refused", source)
    return TrustedIssuers(issuers=issuers, source=source)


def load_trusted_issuers(path: str | Path) -> TrustedIssuers:
    """Load the trusted-issuers file (YAML if it ends in .yaml/.yml, JSON otherwise).

    Raises ValueError naming the file and what is wrong with it.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(
            f"{source}: cannot read trusted issuers file (CDS_TRUSTED_ISSUERS): {exc.strerror}"
        ) from None
    is_yaml = path.suffix.lower() in {".yaml", ".yml"}
    try:
        data = yaml.safe_load(text) if is_yaml else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{source}: not valid {'YAML' if is_yaml else 'JSON'}: {exc}") from None
    issuers = parse_trusted_issuers(data, base_dir=path.resolve().parent, source=source)
    logger.info("loaded %d trusted issuer(s) from %s", len(issuers), source)
    return issuers
