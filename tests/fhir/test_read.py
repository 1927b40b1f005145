"""The tolerant FHIR readers that more than one step uses."""

from __future__ import annotations

import copy

from cds_service.fhir.read import pruned


def test_pruned_drops_what_fhir_json_forbids_at_every_level() -> None:
    resource = {
        "resourceType": "MedicationRequest", "id": "mr-1", "status": "active", "note": None, "text": "",
        "identifier": [], "meta": {}, "reasonCode": [{"coding": [{"system": None, "code": ""}]}, None, ""],
        "dosageInstruction": [{"sequence": 0, "asNeededBoolean": False, "text": "daily", "timing": {"code": {}}}],
        "dispenseRequest": {"quantity": {"value": 0.0, "unit": ""}},
    }
    original = copy.deepcopy(resource)
    assert pruned(resource) == {
        "resourceType": "MedicationRequest", "id": "mr-1", "status": "active",
        # zero and false are values; an object left empty by pruning goes too
        "dosageInstruction": [{"sequence": 0, "asNeededBoolean": False, "text": "daily"}],
        "dispenseRequest": {"quantity": {"value": 0.0}},
    }
    assert resource == original  # a copy: the request's resource is untouched


def test_pruned_leaves_scalars_and_keeps_list_order() -> None:
    assert pruned("x") == "x" and pruned(0) == 0 and pruned(None) is None
    assert pruned([3, None, [], 1, {"a": None}, {"b": 2}]) == [3, 1, {"b": 2}]
