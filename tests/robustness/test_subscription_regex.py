"""A hub subscription's ``query`` is evaluated by the relay on every event, in Python. A catastrophic
regular expression in it, met by a long ``aaaa…!`` value in a query someone creates, must not stall the
relay: the events of every other subscriber still arrive, and the pattern counts as not matching."""

from __future__ import annotations

from pathlib import Path

import httpx
from harness import BASE, QPR, running, wait_for
from listener import Listener

EVIL = "eventType=QueryProductRecommendationCreateEvent&event.queryProductRecommendation.name.regex=^(a|a)*$"


def test_a_catastrophic_regex_in_a_subscription_does_not_stall_event_relay(tmp_path: Path, mongo_uri: str) -> None:
    listener = Listener()
    try:
        with running("serve", tmp_path, mongo_uri, TMF680_WORKERS="true", TMF680_POLL_MS="50",
                     TMF680_CALLBACK_ALLOW="127.0.0.1") as server, \
                httpx.Client(base_url=server.url, timeout=10) as client:
            for path, query in (("/evil", EVIL), ("/good", "eventType=QueryProductRecommendationCreateEvent")):
                registered = client.post(f"{BASE}/hub", json={"callback": listener.url(path), "query": query})
                assert registered.status_code == 201, registered.text
            ids = [client.post(QPR, json={"name": name}).json()["id"] for name in ("a" * 64 + "!", "after")]

            def delivered() -> set[str]:
                return {e["event"]["queryProductRecommendation"]["id"] for e in listener.events("/good")}

            wait_for(lambda: delivered() >= set(ids), 30, "both create events delivered to the other subscriber")
            assert listener.events("/evil") == []
    finally:
        listener.close()
