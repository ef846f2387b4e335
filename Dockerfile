# The scoring service: `traincycle serve` over the model directory baked in at /app/model.
#   make image            podman, offline, from a local Debian base (see the Makefile)
#   make image-wheels && docker build -t traincycle-serve .      where python:3.11-slim-bookworm can be pulled
# Mount another model directory over /app/model to serve it instead (one whose inputs need no
# more than this one's: docker/requirements.py).
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
# docker/wheels: the traincycle wheel and every wheel serving this model needs, at the versions
# constraints.txt pins, with the lists docker/requirements.py wrote, made on the host by
# `make image-wheels`; the build reaches no index
COPY docker/wheels /wheels
# only what serving imports (not torch, xgboost, dvc, ...)
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels -r /wheels/requirements.txt \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --no-deps --find-links /wheels \
        -r /wheels/no-deps.txt traincycle \
    && /opt/venv/bin/python -m pip uninstall -q -y pip setuptools \
    && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

FROM ${BASE}
RUN useradd --system --uid 10001 --create-home --home-dir /app --shell /usr/sbin/nologin traincycle \
    && mkdir /app/logs && chown traincycle /app/logs
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY models/optimized /app/model
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status != 200)"]
CMD ["traincycle", "serve", "/app/model", "--host", "0.0.0.0", "--port", "8000", "--log", "/app/logs/requests.jsonl"]
