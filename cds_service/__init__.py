"""cds-naltrexone: a CDS Hooks 2.0 service. `__version__` is the one version source (pyproject reads it)."""

__version__ = "0.1.0"
