"""The HTTP edge (inbound): everything between the socket and the handlers, for every API.

Spec loading (``spec/``) and mounting (``apis``), validation, the TMF ``Error`` mapping (``errors``), body
guard (``middleware``), bearer-token auth, request log, metrics, docs page, JSON codec, health probes, the
WSGI bridge, and the request context handlers read (``context``, ``responses``). It may use services,
never the composition root, storage or the engine.
"""
