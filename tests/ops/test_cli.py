"""The CLI never answers a user's mistake with a traceback: one clear line, a non-zero exit.

Every command runs as a subprocess (`python -m cds_service ...`), as a user would run it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cds_service import __version__
from cds_service.ops.logging_config import UVICORN_LOG_CONFIG_FILE, uvicorn_log_config
from tests.conftest import FIXTURES, ROOT
from tests.support.servers import free_port

REQUEST = FIXTURES / "opioid-stopped-3-days" / "order-sign.json"
BUNDLE = FIXTURES / "cirrhosis-active" / "bundle.json"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    full_env.update({"CDS_PATIENT_HASH_KEY": "cli-test-key", "COLUMNS": "72", **(env or {})})
    return subprocess.run([sys.executable, "-m", "cds_service", *args], capture_output=True, text=True,
                          cwd=ROOT, env=full_env, timeout=timeout, check=False)


def assert_one_line_error(done: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    assert done.returncode == status, done
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith(("error:", "Error:"))]
    assert len(errors) == 1, done.stderr
    for word in words:
        assert word in errors[0], (word, errors[0])


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"cds-naltrexone {__version__}"


def test_bad_as_of_is_a_usage_error() -> None:
    assert_one_line_error(run("evaluate", str(REQUEST), "--as-of", "25/11/2026"), 2, "--as-of", "YYYY-MM-DD")


def test_bad_cds_today_setting() -> None:
    assert_one_line_error(run("evaluate", str(REQUEST), env={"CDS_TODAY": "25/11/2026"}), 1, "CDS_TODAY")


def test_evaluate_honours_cds_today(tmp_path: Path) -> None:
    """The fixture's opioid ended 2026-11-22: on 2026-11-25 a critical washout card, 30 days later none."""
    as_json = ["evaluate", str(REQUEST), "--json"]
    on_the_day = json.loads(run(*as_json, env={"CDS_TODAY": "2026-11-25"}).stdout)
    later = json.loads(run(*as_json, env={"CDS_TODAY": "2026-12-25"}).stdout)
    rules = {c["source"]["topic"]["code"]: c["indicator"] for c in on_the_day["cards"]}
    assert rules.get("opioid-washout") in {"critical", "warning"}
    assert "opioid-washout" not in {c["source"]["topic"]["code"] for c in later["cards"]}
    flag = json.loads(run(*as_json, "--as-of", "2026-11-25", env={"CDS_TODAY": "2026-12-25"}).stdout)
    assert flag == {**on_the_day, "cards": flag["cards"]} and len(flag["cards"]) == len(on_the_day["cards"])


@pytest.mark.parametrize(("order", "words"), [
    ({}, ["not a FHIR resource"]),
    ({"resourceType": "Patient", "id": "p"}, ["a Patient", "MedicationRequest"]),
    ({"resourceType": "Bundle", "type": "collection", "entry": []}, ["no MedicationRequest"]),
    ({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient"}}]},
     ["Patient", "only MedicationRequest"]),
    ({"resourceType": "MedicationRequest", "status": "draft"}, ["no id"]),
    ([1, 2], ["not a FHIR resource"]),
])
def test_evaluate_order_must_be_medication_requests(tmp_path: Path, order: object, words: list[str]) -> None:
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order))
    done = run("evaluate", str(BUNDLE), "--order", str(path), "--as-of", "2026-11-25")
    assert_one_line_error(done, 2, "--order", *words)
    assert "No cards" not in done.stdout  # never a silent all-clear


def test_evaluate_order_bundle_of_medication_requests(tmp_path: Path) -> None:
    sign = json.loads((FIXTURES / "cirrhosis-active" / "order-sign.json").read_text())
    draft = sign["context"]["draftOrders"]["entry"][0]["resource"]
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]}))
    done = run("evaluate", str(BUNDLE), "--order", str(path), "--as-of", "2026-11-25", "--json")
    assert done.returncode == 0, done.stderr
    assert "liver-disease" in {c["source"]["topic"]["code"] for c in json.loads(done.stdout)["cards"]}


def test_card_markdown_rendered_and_wrapped() -> None:
    done = run("evaluate", str(REQUEST), "--as-of", "2026-11-25")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 72
    assert "**" not in done.stdout  # markdown bold rendered, not printed raw
    assert any("CRITICAL [opioid-washout]" in line for line in lines)
    assert any("Evidence" in line for line in lines)


def test_port_in_use_detected_before_migrations(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite3"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("serve", "--port", str(port), env={"CDS_DATABASE_URL": f"sqlite:///{db}"})
    assert_one_line_error(done, 1, f"port {port}", "already in use")
    assert not db.exists(), "the migrations ran before the port was checked"


def test_unreachable_database_is_one_line() -> None:
    url = f"postgresql+psycopg://cds:secret-pw@127.0.0.1:{free_port()}/cds"
    for command in (["report"], ["purge"], ["migrate"]):
        done = run(*command, env={"CDS_DATABASE_URL": url})
        assert_one_line_error(done, 1, "database", "cannot be used", "Connection refused")
        assert "secret-pw" not in done.stderr


def test_serve_starts_degraded_when_the_database_does_not_answer(tmp_path: Path) -> None:
    """A pod restarted during a PostgreSQL outage gives guidance (cards journaled), not a crash loop."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env.update({"CDS_PATIENT_HASH_KEY": "cli-test-key", "CDS_AUTH_MODE": "off", "CDS_TODAY": "2026-11-25",
                "CDS_DATABASE_URL": f"postgresql+psycopg://cds:secret-pw@127.0.0.1:{free_port()}/cds",
                "CDS_JOURNAL_DIR": str(tmp_path / "journal")})
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cds_service", "serve", "--port", str(port)], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    ready = http.get("/readyz")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            assert ready.status_code == 200 and ready.json()["status"] == "degraded", ready.text
            assert ready.json()["checks"]["database"]["state"] == "degraded"
            answer = http.post("/cds-services/naltrexone-order-sign", json=json.loads(REQUEST.read_text()))
            assert answer.status_code == 200 and answer.json()["cards"], answer.text[:300]
            assert http.get("/readyz").json()["checks"]["journal"]["pending"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    said = log.read_text()
    assert "Connection refused" in said and "Starting degraded" in said and "Traceback" not in said, said
    assert "secret-pw" not in said


@pytest.mark.postgres
def test_serve_stops_on_a_database_set_up_error(postgres_url: str) -> None:
    """An unknown role is a set-up error no wait will mend: one line, exit 1 (no degraded start)."""
    url = postgres_url.replace("postgres@", "no_such_role@", 1)
    done = run("serve", "--port", str(free_port()), env={"CDS_DATABASE_URL": url})
    assert_one_line_error(done, 1, "database", "cannot be used", 'role "no_such_role" does not exist')


def test_unmigrated_database_refused_when_migrations_are_a_job(tmp_path: Path) -> None:
    env = {"CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}", "CDS_MIGRATE_ON_START": "false"}
    assert_one_line_error(run("serve", "--port", str(free_port()), env=env), 1, "not migrated",
                          "python -m cds_service migrate")
    done = run("migrate", env=env)
    assert done.returncode == 0 and done.stdout.startswith("database migrated: revision "), done


def test_bad_arguments_are_usage_errors() -> None:
    assert_one_line_error(run("serve", "--port", "eighty"), 2, "--port")
    assert_one_line_error(run("evaluate", "/no/such/file.json"), 2, "/no/such/file.json")
    assert_one_line_error(run("report", "--since", "yesterday"), 2, "--since")


def test_uvicorn_log_config_file_is_current() -> None:
    assert json.loads(UVICORN_LOG_CONFIG_FILE.read_text()) == uvicorn_log_config(), (
        "regenerate cds_service/ops/uvicorn-logging.json from uvicorn_log_config()")
