"""Naltrexone order checks (and opioid orders for patients on naltrexone)."""
