# cds-naltrexone: CDS Hooks 2.0 service. Build: docker build -t cds-naltrexone .
# Layers: the locked dependencies first (rebuilt only when requirements.lock changes), then the code.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CDS_DATABASE_URL=sqlite:////var/lib/cds-naltrexone/ledger.sqlite3 \
    CDS_JOURNAL_DIR=/var/lib/cds-naltrexone/journal \
    CDS_LOG_FORMAT=json \
    CDS_FORWARDED_ALLOW_IPS="" \
    PROMETHEUS_MULTIPROC_DIR=/tmp/cds-metrics \
    WEB_CONCURRENCY=1

WORKDIR /app

# 1. dependencies: exactly the hash-locked runtime set (no test tools), nothing resolved at build time
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock

# 2. the service itself (a code change rebuilds only this layer)
COPY pyproject.toml README.md LICENSE ./
COPY cds_service ./cds_service
RUN pip install --no-deps . \
    && groupadd --system --gid 10001 cds \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin cds \
    && mkdir -p /var/lib/cds-naltrexone && chown 10001:10001 /var/lib/cds-naltrexone

# the SQLite ledger (the default database) and the ledger journal (CDS_JOURNAL_DIR: cards kept while the
# database is down) live here
VOLUME ["/var/lib/cds-naltrexone"]
# numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd
USER 10001:10001
EXPOSE 8080

HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2).status == 200 else 1)"]

# `serve` checks the port and the database first, logs in CDS_LOG_FORMAT (uvicorn too), trusts forwarding
# headers only from CDS_FORWARDED_ALLOW_IPS (default: nobody), and runs WEB_CONCURRENCY workers
CMD ["python", "-m", "cds_service", "serve", "--host", "0.0.0.0", "--port", "8080"]
