# Z-Image Playground: one image, two commands, run as a non-root user with static files collected at build time.
#   web:    bin/start   (the default: migrate, then gunicorn serving the ASGI app on $BIND)
#   worker: bin/worker  (runs queued generations, WORKER_CONCURRENCY at a time; scale by running more)
FROM python:3.12-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/venv UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN DEBUG=false SECRET_KEY=collectstatic-only ALLOWED_HOSTS=build STATIC_ROOT=/app/staticfiles \
    /venv/bin/python manage.py collectstatic --no-input

FROM python:3.12-slim-bookworm
RUN useradd --create-home --uid 10001 playground && mkdir -p /data/media && chown playground /data/media
COPY --from=build /venv /venv
COPY --from=build --chown=playground /app /app
WORKDIR /app
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 STATIC_ROOT=/app/staticfiles MEDIA_ROOT=/data/media BIND=0.0.0.0:8000
USER playground
EXPOSE 8000
VOLUME ["/data/media"]
# Liveness of the web command (/healthz does no I/O); orchestrators probe readiness at /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
CMD ["bin/start"]
