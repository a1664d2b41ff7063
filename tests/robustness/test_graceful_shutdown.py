"""Graceful shutdown (SIGTERM) of gunicorn and of ``tmf680 serve``: requests in flight are answered, the
background workers finish the task they hold, the process exits well within ``graceful_timeout``, and every
accepted asynchronous task reaches a final state (after a restart for those not started)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import BASE, QPR, Server, running, wait_for
from listener import Listener
from pymongo import MongoClient

GRACEFUL_S = 20
BLOCK_MS = 1500
IN_FLIGHT = 6
FINAL = {"done", "terminatedWithError"}


def states(mongo: MongoClient, db_name: str) -> dict[str, str]:  # type: ignore[type-arg]
    return {d["r"]["id"]: d["r"]["state"] for d in mongo[db_name]["queryProductRecommendation"].find({}, {"r": 1})}


def sigterm_and_wait(server: Server) -> float:
    """SIGTERM, then the seconds until the process exited (it must, within the graceful timeout)."""
    sent = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=GRACEFUL_S + 10)
    return time.monotonic() - sent


@pytest.fixture(params=["gunicorn", "serve"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_name(mongo_admin: MongoClient) -> Iterator[str]:  # type: ignore[type-arg]
    name = f"drain_{time.monotonic_ns()}"
    yield name
    mongo_admin.drop_database(name)


def test_requests_in_flight_are_answered(kind: str, tmp_path: Path, mongo_uri: str, db_name: str,
                                         mongo_admin: MongoClient,  # type: ignore[type-arg]
                                         fail_point: Callable[..., None],
                                         record_figures: Callable[[dict[str, Any]], None]) -> None:
    """Creates held in MongoDB for 1.5 s (the ``failCommand`` fail point, ``blockConnection`` on ``insert``
    for the server's appName) when SIGTERM arrives: every one is answered 201 and stored."""
    with running(kind, tmp_path, mongo_uri, db_name, TMF680_WORKERS="false",
                 TMF680_GRACEFUL_TIMEOUT=str(GRACEFUL_S)) as server:
        fail_point("failCommand", failCommands=["insert"], blockConnection=True, blockTimeMS=BLOCK_MS,
                   appName="tmf680")
        answers: list[httpx.Response | Exception] = []

        def create(n: int) -> None:
            try:
                answers.append(httpx.post(f"{server.url}{QPR}", json={"name": f"in flight {n}"}, timeout=30))
            except httpx.HTTPError as exc:
                answers.append(exc)

        threads = [threading.Thread(target=create, args=(n,)) for n in range(IN_FLIGHT)]
        for thread in threads:
            thread.start()
        held = {"currentOp": 1, "appName": "tmf680", "command.insert": {"$exists": True}}
        wait_for(lambda: len(mongo_admin.admin.command(held)["inprog"]) == IN_FLIGHT, 10, "the creates held in MongoDB")
        exit_s = sigterm_and_wait(server)
        for thread in threads:
            thread.join(30)
    statuses = [a.status_code if isinstance(a, httpx.Response) else type(a).__name__ for a in answers]
    assert statuses == [201] * IN_FLIGHT
    if kind == "gunicorn":
        assert server.process.returncode == 0, server.output()[-2000:]
    assert exit_s < GRACEFUL_S
    created = {a.json()["id"] for a in answers if isinstance(a, httpx.Response)}
    assert created <= set(states(mongo_admin, db_name))
    record_figures({"fault": f"SIGTERM to {kind} with {IN_FLIGHT} creates held {BLOCK_MS} ms in MongoDB",
                    "requests_failed": IN_FLIGHT - statuses.count(201), "acknowledged_lost": 0,
                    "exit_s": round(exit_s, 2)})


def test_worker_tasks_are_finished_or_left_claimable(kind: str, tmp_path: Path, mongo_uri: str, db_name: str,
                                                     mongo_admin: MongoClient,  # type: ignore[type-arg]
                                                     request: pytest.FixtureRequest,
                                                     record_figures: Callable[[dict[str, Any]], None]) -> None:
    """Asynchronous tasks taking 2.5 s each (``TMF680_TASK_DELAY_MS``) when SIGTERM arrives: the tasks being
    computed are completed before the process exits, the others stay ``accepted`` (never stuck
    ``inProgress``), and a restarted server takes them all to a final state. With no catalogue loaded the
    computed outcome is ``terminatedWithError``; what is checked is that no task is lost. A subscriber
    (answering slowly, 0.3 s) gets every task's final state-change event, in flight at SIGTERM or not."""
    tasks = 6
    settings = {"TMF680_WORKERS": "true", "TMF680_POLL_MS": "50", "TMF680_TASK_LEASE_S": "5",
                "TMF680_GRACEFUL_TIMEOUT": str(GRACEFUL_S), "TMF680_CALLBACK_ALLOW": "127.0.0.1"}
    listener = Listener(delay_s=0.3)
    request.addfinalizer(listener.close)
    final_events = ("eventType=QueryProductRecommendationStateChangeEvent"
                    "&event.queryProductRecommendation.state=done,terminatedWithError")

    def notified() -> list[str]:
        return [e["event"]["queryProductRecommendation"]["id"] for e in listener.events()]

    with running(kind, tmp_path, mongo_uri, db_name, TMF680_TASK_DELAY_MS="2500", **settings) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            subscribed = client.post(f"{BASE}/hub", json={"callback": listener.url(), "query": final_events})
            assert subscribed.status_code == 201, subscribed.text
            ids = [client.post(QPR, json={"name": f"task {n}", "instantSyncRecommendation": False}).json()["id"]
                   for n in range(tasks)]
        held = wait_for(lambda: {i for i, s in states(mongo_admin, db_name).items() if s == "inProgress"}, 10,
                        "a task in progress")
        exit_s = sigterm_and_wait(server)
    after_stop = states(mongo_admin, db_name)
    assert all(after_stop[i] in FINAL for i in held), after_stop  # drained, not abandoned
    assert all(after_stop[i] in FINAL | {"accepted"} for i in ids), after_stop
    assert exit_s < GRACEFUL_S
    if kind == "gunicorn":
        assert server.process.returncode == 0, server.output()[-2000:]

    started = time.monotonic()
    with running(kind, tmp_path, mongo_uri, db_name, **settings):
        wait_for(lambda: all(s in FINAL for s in states(mongo_admin, db_name).values()), 60, "every task final")
        recovered_s = time.monotonic() - started
        wait_for(lambda: set(notified()) == set(ids), 30, "every task's final event delivered")
    assert set(states(mongo_admin, db_name)) == set(ids)
    record_figures({"fault": f"SIGTERM to {kind} while background workers compute tasks",
                    "tasks": tasks, "in_progress_at_sigterm": len(held),
                    "finished_before_exit": sum(after_stop[i] in FINAL for i in ids),
                    "left_accepted": sum(after_stop[i] == "accepted" for i in ids), "tasks_lost": 0,
                    "final_events_delivered": len(set(notified())), "events_lost": 0,
                    "events_delivered_twice": len(notified()) - len(set(notified())),
                    "exit_s": round(exit_s, 2), "all_final_after_restart_s": round(recovered_s, 2)})
