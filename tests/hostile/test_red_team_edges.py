"""Red-team findings 6, 7 and 10 (issue 17): edge values are a 400, never a 500; two `Authorization`
headers are a 401; analytics check the token before the query; over the real app with real ES384 JWTs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from tests.conftest import make_settings
from tests.security.app_support import SERVICE_ID, assert_outcome, load_request, write_trusted_issuers
from tests.security.conftest import CdsTestClient

BASE = "https://cds.example.org"
SERVICE_AUD = f"{BASE}/cds-services/{SERVICE_ID}"
ADMIN = "admin-secret-token"


class Env:
    def __init__(self, http: TestClient, client: CdsTestClient, other: CdsTestClient) -> None:
        self.http, self.client, self.other = http, client, other

    def service(self, token: str, body: dict | None = None) -> Any:
        return self.http.post(f"/cds-services/{SERVICE_ID}", json=body or load_request(),
                              headers={"Authorization": f"Bearer {token}"})

    def feedback(self, body: dict, client: CdsTestClient | None = None, **claims: Any) -> Any:
        token = (client or self.client).token(aud=f"{SERVICE_AUD}/feedback", **claims)
        return self.http.post(f"/cds-services/{SERVICE_ID}/feedback", json=body,
                              headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    issuers, inline, from_file = write_trusted_issuers(tmp_path)
    settings = make_settings(tmp_path, auth_mode="jwt", public_base_url=BASE, trusted_issuers=issuers,
                             admin_token=ADMIN)
    with TestClient(create_app(settings)) as http:
        yield Env(http, inline, from_file)


# --- finding 7 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", [10**400, float("inf"), -float("inf"), 1e300, -1])
def test_absurd_numeric_claims_are_a_malformed_token(env: Env, claim: str, value: object) -> None:
    token = env.client.token(aud=SERVICE_AUD, **{claim: value})
    assert_outcome(env.service(token), 401, "malformed-token")


def card_uuid(env: Env) -> str:
    response = env.service(env.client.token(aud=SERVICE_AUD))
    assert response.status_code == 200
    return response.json()["cards"][0]["uuid"]


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                                   "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_feedback_timestamps_at_the_calendars_edges_are_a_400(env: Env, stamp: str) -> None:
    body = {"feedback": [{"card": card_uuid(env), "outcome": "overridden", "outcomeTimestamp": stamp}]}
    assert_outcome(env.feedback(body), 400, "outcomeTimestamp")


@pytest.mark.parametrize("query", ["since=0001-01-01T00:00:00%2B01:00", "until=9999-12-31T23:59:59-01:00",
                                   "since=x", "until=" + "9" * 400])
def test_analytics_window_edges_are_a_400(env: Env, query: str) -> None:
    response = env.http.get(f"/analytics/rules?{query}", headers={"Authorization": f"Bearer {ADMIN}"})
    assert_outcome(response, 400)


def test_analytics_window_still_works(env: Env) -> None:
    card_uuid(env)
    response = env.http.get("/analytics/rules?since=2000-01-01&until=2200-01-01T00:00:00Z",
                            headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 200
    assert [r["rule_id"] for r in response.json()["rules"]] == ["liver-disease"]


# --- finding 10 ------------------------------------------------------------------------------------------

def test_two_authorization_headers_are_refused(env: Env) -> None:
    good, other = env.client.token(aud=SERVICE_AUD), env.client.token(aud=SERVICE_AUD)
    response = env.http.post(f"/cds-services/{SERVICE_ID}", json=load_request(),
                             headers=[("Authorization", f"Bearer {good}"), ("Authorization", f"Bearer {other}")])
    assert_outcome(response, 401, "malformed-token")
    both = env.http.get("/analytics/rules", headers=[("Authorization", f"Bearer {ADMIN}"),
                                                     ("Authorization", "Bearer x")])
    assert_outcome(both, 401)


@pytest.mark.parametrize("query", ["since=x", "until=9999-99-99", "since=2026-01-01"])
def test_analytics_check_the_token_before_the_query(env: Env, query: str) -> None:
    assert_outcome(env.http.get(f"/analytics/rules?{query}"), 401)
    assert_outcome(env.http.get(f"/analytics/rules?{query}", headers={"Authorization": "Bearer wrong"}), 401)


# --- finding 6 -------------------------------------------------------------------------------------------

def overridden(card: str) -> dict:
    return {"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-25T10:00:00Z"}]}


def test_feedback_only_from_the_issuer_and_tenant_that_received_the_card(env: Env) -> None:
    response = env.service(env.client.token(aud=SERVICE_AUD, tenant="t1"))
    card = response.json()["cards"][0]["uuid"]
    # another trusted issuer, and the same issuer for another tenant: as if the card did not exist
    assert_outcome(env.feedback(overridden(card), env.other, tenant="t1"), 400, "unknown card")
    assert_outcome(env.feedback(overridden(card), tenant="t2"), 400, "unknown card")
    assert_outcome(env.feedback(overridden(card)), 400, "unknown card")  # no tenant is another tenant
    ok = env.feedback(overridden(card), tenant="t1")
    assert ok.status_code == 200 and ok.json() == {"stored": 1, "received": 1}
    stats = env.http.get("/analytics/rules", headers={"Authorization": f"Bearer {ADMIN}"}).json()["rules"]
    assert [(r["rule_id"], r["issued"], r["overridden"]) for r in stats] == [("liver-disease", 1, 1)]
