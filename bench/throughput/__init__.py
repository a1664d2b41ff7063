"""The HTTP benchmark: our server and a stock Connexion baseline under wrk, engine latency and
worker memory, as one table and one JSON file (``python -m bench.throughput --help``).

The package is not called ``bench.http``: the benchmark scripts put ``bench/`` on ``sys.path`` (they are
run as ``python bench/engine_latency.py``), where a ``bench/http`` package would shadow the standard
library's ``http``.
"""
