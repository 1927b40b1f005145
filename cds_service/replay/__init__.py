"""Replay of historical orders over a FHIR Bulk Data export (`python -m cds_service replay`): see run.py."""
