# syntax=docker/dockerfile:1
# NetRaven Tasks: one image for every role; the command picks it (see compose.yaml):
#   netraven-tasks worker | beat | api --host 0.0.0.0 | flower --host 0.0.0.0 | db upgrade
# Build: docker build -f worker.Dockerfile -t netraven-tasks:local .
# No secret is baked in: configuration comes from NETRAVEN_* variables at run time.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/netraven
ENV PATH=/opt/netraven/bin:$PATH
WORKDIR /src
# Dependencies: exactly the runtime lock (setup.cfg's install_requires with the flower and ssh
# extras, every version and file hash pinned; scripts/lock makes it), so this layer is rebuilt
# only when the lock changes, not on every code change.
COPY requirements/runtime.lock ./requirements/
RUN pip install --require-hashes --requirement requirements/runtime.lock
COPY setup.cfg pyproject.toml README.md ./
COPY netraven_tasks ./netraven_tasks
COPY api ./api
RUN pip install --no-deps .

FROM python:3.11-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="NetRaven Tasks" \
      org.opencontainers.image.description="Celery worker, beat, REST API and Flower of NetRaven Tasks" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 netraven \
 && useradd --system --uid 10001 --gid netraven --home-dir /var/lib/netraven --create-home \
      --shell /usr/sbin/nologin netraven
COPY --from=build /opt/netraven /opt/netraven
ENV PATH=/opt/netraven/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NETRAVEN_VAR_DIR=/var/lib/netraven \
    NETRAVEN_LOG_FORMAT=json
WORKDIR /var/lib/netraven
USER 10001:10001
EXPOSE 8000 5555
# The default role is the worker: healthy while its own node answers a ping through the broker.
# compose.yaml gives the other roles their own check (API: /healthz, Flower: /healthcheck).
HEALTHCHECK --interval=60s --timeout=30s --start-period=60s --retries=3 \
  CMD ["/bin/sh", "-c", "celery -A netraven_tasks inspect ping --destination \"celery@$HOSTNAME\" --timeout 10 || exit 1"]
CMD ["netraven-tasks", "worker", "--loglevel", "info"]
