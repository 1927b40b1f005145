"""`python -m cds_service evaluate`: requests of any registered service, and a patient Bundle split into the
pack's own prefetch templates (no key hard-coded in the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cds_service.cli import cli
from tests.conftest import FIXTURES, TODAY

runner = CliRunner()


def _cards(*args: str) -> list[tuple[str, str]]:
    result = runner.invoke(cli, ["evaluate", *args, "--as-of", TODAY, "--json"])
    assert result.exit_code == 0, result.output
    return sorted((c["source"]["topic"]["code"], c["indicator"]) for c in json.loads(result.output)["cards"])


def test_a_patient_view_request() -> None:
    path = FIXTURES / "patient-view" / "pv-xr-lapsed" / "patient-view.json"
    assert _cards(str(path)) == [("overdose-risk", "warning"), ("xr-naltrexone-due", "warning")]


def test_a_patient_bundle_at_patient_view_needs_no_order(tmp_path: Path) -> None:
    request = json.loads((FIXTURES / "patient-view" / "pv-opioid-prescribed-elsewhere" / "patient-view.json")
                         .read_text())
    resources = [{"resourceType": "Patient", "id": request["context"]["patientId"], "birthDate": "1980-01-01"}]
    resources += [e["resource"] for v in request["prefetch"].values() for e in v["entry"]]
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": r} for r in resources]}))
    assert _cards(str(bundle), "--hook", "patient-view") == [("opioid-on-naltrexone", "critical")]


def test_a_bundle_with_an_order_at_order_sign(tmp_path: Path) -> None:
    scenario = FIXTURES / "opioid-stopped-3-days"
    request = json.loads((scenario / "order-sign.json").read_text())
    order_path = tmp_path / "order.json"
    order_path.write_text(json.dumps(request["context"]["draftOrders"]["entry"][0]["resource"]))
    got = _cards(str(scenario / "bundle.json"), "--order", str(order_path))
    want = sorted((c["rule"], c["indicator"]) for c in json.loads((scenario / "expected.json").read_text())
                  ["order-sign"]["cards"])
    assert got == want
