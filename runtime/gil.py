"""How long a thread may keep the GIL while another one waits for it (``sys.setswitchinterval``).

A worker serves requests on one event loop thread (uvicorn's: routing, validation, the response and
its access line) and hands each one to a Flask thread (edge/wsgi_bridge.py), which waits on MongoDB:
every request crosses between them three times (the task's first step, the thread's answer, the task
resumed), and each crossing is a thread waiting for the GIL. When the other holds it, the waiting
thread gets it at the next switch request, after CPython's default 5 ms: at 32 connections on one
worker the requests spent three quarters of their time waiting for the loop (issue 14, tail latency).
0.5 ms makes the turns shorter for the same CPU per request; what it did to GET by id's p99/p50 on the
shared benchmark machine is in the README (Benchmarks): lower in most alternating rounds, within the
machine's noise.
"""

from __future__ import annotations

import sys

SWITCH_INTERVAL_S = 0.0005


def shorten_switch_interval(seconds: float = SWITCH_INTERVAL_S) -> float:
    """Set the process's GIL switch interval; returns the previous one."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    return previous
