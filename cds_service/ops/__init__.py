"""Operator surface beside the CDS Hooks API: metrics, probes, structured logs, request ids, offline docs.

Each module is wired into the app by `cds_service.ops.install(app, ...)`-style calls from `app.py`, so the
protocol code knows nothing about them.
"""
