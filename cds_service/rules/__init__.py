"""Rule packs: pure functions of the patient record and the order, returning findings."""
