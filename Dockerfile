# syntax=docker/dockerfile:1
# Threadweaver: one image, every component (`threadweaver worker|mirror|projector|api|db migrate|…`).
# Build: docker build -t threadweaver:0.1.0 .



# --- build stage: a virtualenv with the pinned dependencies and the package itself ----------
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml requirements.lock README.md ./
COPY pipeline ./pipeline
COPY api ./api
# Runtime dependencies only (no [local,dev] extras); versions come from the lock file.
RUN /opt/venv/bin/pip install --upgrade pip==26.3 \
    && /opt/venv/bin/pip install -c requirements.lock .

# --- final stage: no compilers, no pip cache, no source tree, a non-root user ------------------
FROM python:3.11.14-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="threadweaver" \
      org.opencontainers.image.description="Event-sourced chat threads on Kafka"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    THREADWEAVER_SCHEMAS_DIR=/app/schemas \
    THREADWEAVER_WORKER_DATA_DIR=/var/lib/threadweaver/worker \
    THREADWEAVER_API_HOST=0.0.0.0
RUN groupadd --system --gid 10001 threadweaver \
    && useradd --system --uid 10001 --gid threadweaver --home-dir /app --shell /usr/sbin/nologin threadweaver \
    && mkdir -p /var/lib/threadweaver/worker \
    && chown -R threadweaver:threadweaver /var/lib/threadweaver
COPY --from=build /opt/venv /opt/venv
COPY --chown=root:root schemas /app/schemas
WORKDIR /app
USER 10001:10001
VOLUME ["/var/lib/threadweaver"]
EXPOSE 8000 9464 9465 9466
# Liveness of the API (compose and k8s override it per component: worker/mirror/projector
# answer on their metrics port).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('THREADWEAVER_API_PORT', '8000'), timeout=2)"]
ENTRYPOINT ["threadweaver"]
CMD ["--help"]
