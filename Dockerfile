# TMF680 Recommendation Management server image.
#
#   scripts/build-image.sh [TAG]       (docker build with the package version, git source and revision)
#   docker run --read-only --tmpfs /tmp -v tmf680-data:/var/lib/tmf680 -p 8080:8080 \
#       -e MONGODB_URI=mongodb://mongo:27017 tmf680-recommendation
#   docker run --read-only --tmpfs /tmp -e MONGODB_URI=... --entrypoint tmf680 tmf680-recommendation worker
#
# The base image is a build argument: any Debian-like image with python3 (>= 3.11) and its venv module,
# an official python:3.11-slim by default, or Debian's own python3 + python3-venv (the test suite builds one
# with mmdebstrap). Both stages use the same base, so the virtualenv copied from the first runs in the second.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG VERSION
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
# The package's wheel, then only it and its dependencies installed into a fresh virtualenv. A build behind a
# TLS-inspecting proxy puts the host's CA bundle in the context as .build-ca.pem (scripts/build-image.sh):
# pip trusts it here, and it stays in this stage. numpy's and scipy's own test suites (~50 MB) are left out.
WORKDIR /src
COPY . .
RUN if [ -f .build-ca.pem ]; then export PIP_CERT=/src/.build-ca.pem; fi \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/python -m pip wheel --quiet --wheel-dir /wheels . \
 && /opt/venv/bin/python -m pip install --quiet --no-index --find-links /wheels tmf680-recommendation \
 && built=$(/opt/venv/bin/python -c 'import importlib.metadata as m; print(m.version("tmf680-recommendation"))') \
 && if [ -n "${VERSION}" ] && [ "${VERSION}" != "${built}" ]; then \
        echo "VERSION build argument ${VERSION} is not the package's version ${built}" >&2; exit 1; fi \
 && /opt/venv/bin/python -m pip uninstall --quiet --yes pip setuptools wheel \
 && find /opt/venv/lib/python3*/site-packages/numpy /opt/venv/lib/python3*/site-packages/scipy \
        -depth -type d -name tests -exec rm -rf {} + \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib

FROM ${BASE_IMAGE} AS runtime
ARG VERSION
# Where the source is published and the commit built (scripts/build-image.sh fills both from git).
ARG SOURCE_URL=""
ARG REVISION=""
LABEL org.opencontainers.image.title="tmf680-recommendation" \
      org.opencontainers.image.description="TM Forum TMF680 Recommendation Management v4.0.0 server (ODA component TMFC050)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# Numeric user 10001 in group 0: the writable paths are group-0 writable, so a platform that picks its own
# uid (OpenShift) works too. The root filesystem may be read-only: write only to the volumes below.
RUN useradd --system --uid 10001 --gid 0 --home-dir /var/lib/tmf680 --no-create-home \
        --shell /usr/sbin/nologin tmf680 \
 && mkdir -p /var/lib/tmf680 /var/run/tmf680/prometheus \
 && chown -R 10001:0 /var/lib/tmf680 /var/run/tmf680 \
 && chmod -R g=u /var/lib/tmf680 /var/run/tmf680
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/var/lib/tmf680 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMF680_BIND=0.0.0.0:8080 \
    TMF680_DATA_DIR=/var/lib/tmf680 \
    PROMETHEUS_MULTIPROC_DIR=/var/run/tmf680/prometheus
VOLUME ["/var/lib/tmf680", "/var/run/tmf680/prometheus", "/tmp"]
WORKDIR /var/lib/tmf680
USER 10001:0
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; port = os.environ.get('TMF680_BIND', ':8080').rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/health/live', timeout=4)"]
ENTRYPOINT ["gunicorn", "-c", "python:app.gunicorn_conf", "app.factory:create_asgi_app()"]
