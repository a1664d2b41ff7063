"""The replica-set launcher (runtime/replica_set.py) the ``replset`` tox environment runs the tiers on:
three members of the embedded binary, one primary, majority writes acknowledged, every process stopped on
exit (skipped on a standalone session)."""

from __future__ import annotations

from pathlib import Path

from pymongo import MongoClient

from runtime.replica_set import PRIMARY, SECONDARY, ReplicaSet
from storage.mongo import make_client


def test_the_session_runs_on_three_members_with_one_primary(replica_set: ReplicaSet, db_name: str) -> None:
    assert sorted(replica_set.status().values()) == [PRIMARY, SECONDARY, SECONDARY]
    assert replica_set.uri.endswith("/?replicaSet=rs0") and len(replica_set.hosts) == 3
    client = make_client(replica_set.uri, 5000, write_concern="majority")
    try:
        client[db_name]["c"].insert_one({"_id": 1})
        hello = client.admin.command("hello")
        assert hello["setName"] == "rs0" and len(hello["hosts"]) == 3
        # acknowledged by a majority: applied on the primary and at least one secondary
        secondaries = [i for i, state in replica_set.status().items() if state == SECONDARY]
        assert any(_has(replica_set.members[i].uri, db_name) for i in secondaries)
    finally:
        client.close()


def _has(member_uri: str, db_name: str) -> bool:
    direct: MongoClient = MongoClient(member_uri, directConnection=True)  # type: ignore[type-arg]
    try:
        return direct[db_name]["c"].find_one({"_id": 1}) is not None
    finally:
        direct.close()


def test_a_replica_set_elects_a_primary_and_stops_every_member(replica_set: ReplicaSet, tmp_path: Path) -> None:
    with ReplicaSet(tmp_path, name="rs_own", election_timeout_ms=3_000, heartbeat_ms=500) as own:
        pids = [member.pid for member in own.members]
        assert all(pid is not None and Path(f"/proc/{pid}").exists() for pid in pids)
        primary = own.wait_for_primary(30)
        assert own.status()[primary] == PRIMARY
        stepped = own.step_down(30)
        assert own.wait_for_primary(60, other_than=stepped) != stepped
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)  # stopped, not left running
