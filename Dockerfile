# cds-naltrexone: CDS Hooks 2.0 service. Build: docker build -t cds-naltrexone .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    CDS_DATABASE_URL=sqlite:////var/lib/cds-naltrexone/ledger.sqlite3 \
    CDS_JOURNAL_DIR=/var/lib/cds-naltrexone/journal

WORKDIR /app
COPY pyproject.toml README.md ./
COPY cds_service ./cds_service
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin cds \
    && mkdir -p /var/lib/cds-naltrexone && chown cds /var/lib/cds-naltrexone

USER cds
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; \
sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz').status == 200 else 1)"
CMD ["uvicorn", "cds_service.app:app", "--host", "0.0.0.0", "--port", "8080", "--no-server-header", \
     "--proxy-headers", "--forwarded-allow-ips", "*"]
