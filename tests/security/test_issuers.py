from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cds_service.security.issuers import load_trusted_issuers, parse_trusted_issuers

from .conftest import ISS, JKU, CdsTestClient


def write_config(tmp_path: Path, cds_client: CdsTestClient, suffix: str) -> Path:
    keys_dir = tmp_path / "conf" / "keys"
    keys_dir.mkdir(parents=True)
    (keys_dir / "ehr.jwks.json").write_text(json.dumps(cds_client.jwks()))
    data = {
        "issuers": [
            {"iss": ISS, "jwks_file": "keys/ehr.jwks.json", "jku": [JKU], "tenants": ["t1", "t2"]},
            {"iss": "https://other.example.org", "jwks": {"keys": [cds_client.public_jwk("rsa-1")]}},
        ]
    }
    path = tmp_path / "conf" / f"issuers{suffix}"
    path.write_text(yaml.safe_dump(data) if suffix in {".yaml", ".yml"} else json.dumps(data))
    return path


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_load_with_relative_jwks_file(tmp_path, cds_client, suffix, monkeypatch):
    path = write_config(tmp_path, cds_client, suffix)
    monkeypatch.chdir(tmp_path)  # relative to the config file, not to the working directory
    issuers = load_trusted_issuers(path)
    ehr = issuers.get(ISS)
    assert ehr is not None
    assert set(ehr.keys) == {"ec-1", "rsa-1"}
    assert ehr.jku == (JKU,)
    assert ehr.tenants == frozenset({"t1", "t2"})
    other = issuers.get("https://other.example.org")
    assert other is not None and set(other.keys) == {"rsa-1"} and other.tenants is None
    assert len(issuers) == 2


def test_absolute_jwks_file(tmp_path, cds_client):
    jwks = tmp_path / "abs.jwks.json"
    jwks.write_text(json.dumps(cds_client.jwks()))
    issuers = parse_trusted_issuers(
        {"issuers": [{"iss": ISS, "jwks_file": str(jwks)}]}, base_dir=Path("/nonexistent")
    )
    assert set(issuers.get(ISS).keys) == {"ec-1", "rsa-1"}


def _bad(tmp_path: Path, content: str, name: str = "issuers.json") -> str:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError) as info:
        load_trusted_issuers(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(ValueError, match=r"nope\.json"):
        load_trusted_issuers(path)


def test_invalid_json(tmp_path):
    assert "not valid JSON" in _bad(tmp_path, "{not json")


def test_invalid_yaml(tmp_path):
    assert "not valid YAML" in _bad(tmp_path, "issuers: [\n  - iss: x\n bad", name="issuers.yaml")


def test_wrong_shape(tmp_path):
    assert "`issuers` list" in _bad(tmp_path, json.dumps([{"iss": ISS}]))
    assert "`issuers` list" in _bad(tmp_path, json.dumps({"issuer": []}))


def test_missing_iss(tmp_path, cds_client):
    assert "`iss` is required" in _bad(tmp_path, json.dumps({"issuers": [{"jwks": cds_client.jwks()}]}))


def test_unknown_field_is_a_typo(tmp_path, cds_client):
    content = json.dumps({"issuers": [{"iss": ISS, "jwks": cds_client.jwks(), "jwks_url": "x"}]})
    assert "jwks_url" in _bad(tmp_path, content)


def test_duplicate_issuer(tmp_path, cds_client):
    entry = {"iss": ISS, "jwks": cds_client.jwks()}
    assert "twice" in _bad(tmp_path, json.dumps({"issuers": [entry, entry]}))


def test_missing_jwks_file_names_both_files(tmp_path):
    message = _bad(tmp_path, json.dumps({"issuers": [{"iss": ISS, "jwks_file": "keys/missing.json"}]}))
    assert "missing.json" in message


def test_jwks_file_not_json(tmp_path):
    (tmp_path / "k.json").write_text("nope")
    assert "not valid JSON" in _bad(tmp_path, json.dumps({"issuers": [{"iss": ISS, "jwks_file": "k.json"}]}))


def test_private_key_refused(tmp_path, cds_client):
    jwk = cds_client.public_jwk("ec-1")
    jwk["d"] = "c2VjcmV0"
    message = _bad(tmp_path, json.dumps({"issuers": [{"iss": ISS, "jwks": {"keys": [jwk]}}]}))
    assert "private key material" in message
    assert "c2VjcmV0" not in message


def test_symmetric_key_refused(tmp_path):
    jwk = {"kty": "oct", "kid": "s", "k": "c2VjcmV0"}
    message = _bad(tmp_path, json.dumps({"issuers": [{"iss": ISS, "jwks": {"keys": [jwk]}}]}))
    assert "asymmetric" in message


def test_key_without_kid_refused(tmp_path, cds_client):
    jwk = cds_client.public_jwk("ec-1")
    del jwk["kid"]
    assert "kid" in _bad(tmp_path, json.dumps({"issuers": [{"iss": ISS, "jwks": {"keys": [jwk]}}]}))


def test_unloadable_key_refused(tmp_path):
    jwk = {"kty": "EC", "kid": "x", "crv": "P-384", "x": "AA", "y": "AA"}
    assert "cannot be loaded" in _bad(
        tmp_path, json.dumps({"issuers": [{"iss": ISS, "jwks": {"keys": [jwk]}}]})
    )


def test_issuer_without_keys_refused(tmp_path):
    assert "no keys" in _bad(tmp_path, json.dumps({"issuers": [{"iss": ISS}]}))


@pytest.mark.parametrize("url", ["http://ehr.example.org/jwks.json", "ftp://x/y", "", "https://"])
def test_jku_must_be_https(tmp_path, url):
    assert "jku" in _bad(tmp_path, json.dumps({"issuers": [{"iss": ISS, "jku": [url]}]}))


def test_jku_http_on_loopback_allowed(tmp_path):
    issuers = parse_trusted_issuers(
        {"issuers": [{"iss": ISS, "jku": "http://127.0.0.1:9000/jwks.json"}]}, base_dir=tmp_path
    )
    assert issuers.get(ISS).jku == ("http://127.0.0.1:9000/jwks.json",)


def test_bad_tenants(tmp_path, cds_client):
    content = json.dumps({"issuers": [{"iss": ISS, "jwks": cds_client.jwks(), "tenants": "t1"}]})
    assert "tenants" in _bad(tmp_path, content)


def test_empty_issuer_list_is_allowed_but_logged(tmp_path, caplog):
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps({"issuers": []}))
    assert len(load_trusted_issuers(path)) == 0
    assert any("no trusted issuer" in r.getMessage() for r in caplog.records)
