"""The composition root: settings, the per-process container of services, the ASGI app factory, and the
gunicorn master's configuration. Nothing is built at import time."""

import warnings

# Connexion 3.3 (pinned) imports starlette.testclient at import time for FlaskApp.test_client, and
# Starlette now warns there that its test client wants httpx2: a deprecation about test clients, printed
# on every server start. Every process enters through this package, so the one message is silenced here.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`", category=UserWarning)
