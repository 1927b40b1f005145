"""The test servers are real and work: PostgreSQL (psycopg round trip) and sekmet-fhir (load + searches)."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import psycopg
import pytest

from fhir_builders.systems import LOINC
from tests.support.servers import FhirServer, PostgresServer, collection_to_transaction

# ------------------------------------------------------------------------------------------ PostgreSQL


def test_postgres_url_is_sqlalchemy_psycopg_form(postgres_server: PostgresServer, postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+psycopg://")
    if not postgres_server.external:
        assert postgres_server.port != 5432, "must not use the system PostgreSQL port"
        assert postgres_url == f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port}/cds_test"


def test_postgres_round_trip(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.dsn) as conn:
        version = conn.execute("show server_version").fetchone()[0]
        assert int(version.split(".")[0]) >= 12, version
        assert (
            conn.execute("select current_database()").fetchone()[0] == postgres_server.url.rsplit("/", 1)[1]
        )
        conn.execute("create temporary table t_probe (id serial primary key, name text not null)")
        conn.execute("insert into t_probe (name) values (%s), (%s)", ("naltrexone", "buprenorphine"))
        rows = conn.execute("select name from t_probe order by id").fetchall()
    assert rows == [("naltrexone",), ("buprenorphine",)]


def test_postgres_own_server_settings(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.dsn) as conn:
        if postgres_server.external:  # CDS_TEST_DATABASE_URL: not our server, its settings are not ours
            assert conn.execute("select current_user").fetchone()[0]
            return
        settings = dict(
            conn.execute(
                "select name, setting from pg_settings where name in ('fsync', 'listen_addresses', 'port')"
            ).fetchall()
        )
    assert settings == {"fsync": "off", "listen_addresses": "127.0.0.1", "port": str(postgres_server.port)}


# ------------------------------------------------------------------------------------------ FHIR server


def _obs(oid: str, code: str, display: str, value: float, date: str) -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": date,
        "valueQuantity": {
            "value": value,
            "unit": "U/L",
            "system": "http://unitsofmeasure.org",
            "code": "U/L",
        },
    }


BUNDLE = {
    "resourceType": "Bundle",
    "type": "transaction",
    "entry": [
        {
            "resource": {
                "resourceType": "Patient",
                "id": "p1",
                "name": [{"family": "Probe", "given": ["Pat"]}],
                "gender": "female",
                "birthDate": "1980-04-01",
            },
            "request": {"method": "PUT", "url": "Patient/p1"},
        },
        {
            "resource": {
                "resourceType": "Condition",
                "id": "c1",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {
                    "coding": [
                        {"system": "http://snomed.info/sct", "code": "7200002", "display": "Alcoholism"}
                    ]
                },
                "subject": {"reference": "Patient/p1"},
            },
            "request": {"method": "PUT", "url": "Condition/c1"},
        },
        {
            "resource": _obs("o-alt", "1742-6", "ALT", 250, "2024-05-01"),
            "request": {"method": "PUT", "url": "Observation/o-alt"},
        },
        {
            "resource": _obs("o-ast", "1920-8", "AST", 180, "2024-05-01"),
            "request": {"method": "PUT", "url": "Observation/o-ast"},
        },
        {
            "resource": _obs("o-alt-old", "1742-6", "ALT", 30, "2023-01-10"),
            "request": {"method": "PUT", "url": "Observation/o-alt-old"},
        },
        {
            "resource": {
                "resourceType": "Medication",
                "id": "med-naltrexone",
                "code": {
                    "coding": [
                        {
                            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                            "code": "7243",
                            "display": "naltrexone",
                        }
                    ]
                },
            },
            "request": {"method": "PUT", "url": "Medication/med-naltrexone"},
        },
        {
            "resource": {
                "resourceType": "MedicationRequest",
                "id": "mr1",
                "status": "active",
                "intent": "order",
                "medicationReference": {"reference": "Medication/med-naltrexone"},
                "subject": {"reference": "Patient/p1"},
                "authoredOn": "2024-05-02",
            },
            "request": {"method": "PUT", "url": "MedicationRequest/mr1"},
        },
        {
            "resource": {
                "resourceType": "MedicationRequest",
                "id": "mr2",
                "status": "stopped",
                "intent": "order",
                "medicationCodeableConcept": {
                    "coding": [
                        {
                            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                            "code": "7052",
                            "display": "morphine",
                        }
                    ]
                },
                "subject": {"reference": "Patient/p1"},
            },
            "request": {"method": "PUT", "url": "MedicationRequest/mr2"},
        },
    ],
}


@pytest.fixture(scope="module")
def fhir(fhir_server: FhirServer) -> FhirServer:
    fhir_server.load(BUNDLE)
    return fhir_server


def _search(fhir: FhirServer, query: str) -> dict:
    r = httpx.get(f"{fhir.base_url}/{query}", headers=fhir.headers, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
    return body


def _ids(bundle: dict) -> set[str]:
    return {
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode", "match") == "match"
    }


def test_fhir_base_url_and_metadata(fhir_server: FhirServer) -> None:
    assert fhir_server.base_url == f"http://127.0.0.1:{fhir_server.port}/fhir"
    r = httpx.get(f"{fhir_server.base_url}/metadata", headers=fhir_server.headers)
    assert r.status_code == 200
    assert r.json()["fhirVersion"].startswith("4.0")


def test_fhir_condition_by_patient(fhir: FhirServer) -> None:
    assert _ids(_search(fhir, "Condition?patient=p1")) == {"c1"}


def test_fhir_observation_by_patient_and_system_code(fhir: FhirServer) -> None:
    q = f"Observation?patient=p1&code={quote(LOINC + '|1742-6', safe='')}"
    assert _ids(_search(fhir, q)) == {"o-alt", "o-alt-old"}


def test_fhir_observation_code_list_without_system(fhir: FhirServer) -> None:
    assert _ids(_search(fhir, "Observation?patient=p1&code=1742-6,1920-8")) == {"o-alt", "o-alt-old", "o-ast"}
    assert _ids(_search(fhir, "Observation?patient=p1&code=1920-8")) == {"o-ast"}


def test_fhir_observation_code_list_with_system(fhir: FhirServer) -> None:
    codes = quote(f"{LOINC}|1742-6,{LOINC}|1920-8", safe=",")
    assert _ids(_search(fhir, f"Observation?patient=p1&code={codes}")) == {"o-alt", "o-alt-old", "o-ast"}


def test_fhir_medication_request_active(fhir: FhirServer) -> None:
    assert _ids(_search(fhir, "MedicationRequest?patient=p1&status=active")) == {"mr1"}
    assert _ids(_search(fhir, "MedicationRequest?patient=Patient/p1")) == {"mr1", "mr2"}


def test_fhir_read_medication(fhir: FhirServer) -> None:
    r = httpx.get(f"{fhir.base_url}/Medication/med-naltrexone", headers=fhir.headers)
    assert r.status_code == 200, r.text
    assert r.json()["code"]["coding"][0]["code"] == "7243"
    assert httpx.get(f"{fhir.base_url}/Medication/nope", headers=fhir.headers).status_code == 404


def test_fhir_post_search(fhir: FhirServer) -> None:
    r = httpx.post(
        f"{fhir.base_url}/Observation/_search",
        data={"patient": "p1", "code": f"{LOINC}|1742-6"},
        headers=fhir.headers,
    )
    assert r.status_code == 200, r.text
    assert _ids(r.json()) == {"o-alt", "o-alt-old"}


def test_fhir_count_paging_with_next_link(fhir: FhirServer) -> None:
    seen: list[str] = []
    page = _search(fhir, "Observation?patient=p1&_count=2&_sort=-date")
    pages = 1
    while True:
        seen += [e["resource"]["id"] for e in page.get("entry", [])]
        nxt = [link["url"] for link in page.get("link", []) if link["relation"] == "next"]
        if not nxt:
            break
        assert nxt[0].startswith(fhir.base_url), nxt[0]  # absolute, on our own base URL
        r = httpx.get(nxt[0], headers=fhir.headers)
        assert r.status_code == 200, r.text
        page, pages = r.json(), pages + 1
    assert pages == 2
    assert sorted(seen) == ["o-alt", "o-alt-old", "o-ast"]
    assert seen[-1] == "o-alt-old"  # _sort=-date holds across pages


def test_fhir_requires_token(fhir: FhirServer) -> None:
    r = httpx.get(f"{fhir.base_url}/Patient/p1")
    assert r.status_code == 401
    assert r.json()["resourceType"] == "OperationOutcome"
    bad = httpx.get(f"{fhir.base_url}/Patient/p1", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401
    assert httpx.get(f"{fhir.base_url}/Patient/p1", headers=fhir.headers).status_code == 200


def test_fhir_load_collection_bundle(fhir_server: FhirServer) -> None:
    collection = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient", "id": "p-coll", "gender": "male"}}],
    }
    tx = collection_to_transaction(collection)
    assert tx["type"] == "transaction"
    assert tx["entry"][0]["request"] == {"method": "PUT", "url": "Patient/p-coll"}
    fhir_server.load(collection)
    r = httpx.get(f"{fhir_server.base_url}/Patient/p-coll", headers=fhir_server.headers)
    assert r.status_code == 200 and r.json()["gender"] == "male"


def test_fhir_load_reports_failures(fhir_server: FhirServer) -> None:
    broken = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": {"resourceType": "Nope", "id": "x"}, "request": {"method": "PUT", "url": "Nope/x"}}
        ],
    }
    with pytest.raises(AssertionError, match="FHIR transaction"):
        fhir_server.load(broken)
