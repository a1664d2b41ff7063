"""The HTTP benchmark's pure parts: wrk's result line, request files, the ratio/target table, compare."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # bench/ is not installed; appended, so the installed package still comes first

from bench.throughput import report, wrk  # noqa: E402

WRK_STDOUT = """Running 10s test @ http://127.0.0.1:8080
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.08ms    2.11ms  48.10ms   90.00%
  3200 requests in 10.00s, 1.10MB read
Requests/sec:    320.00
WRK_JSON {"requests":3200,"durationUs":10000000,"bytes":1153433,"socketErrors":{"connect":0,"read":1,"write":0,\
"timeout":2},"httpErrors":3,"unexpected":3,"unexpectedStatuses":{"500":2,"404":1},"latencyUs":{"min":812,\
"mean":10080.5,"max":48100,"p50":9800,"p90":12000,"p99":21500,"p999":40000}}
"""


def test_parse_output_reads_the_lua_result_line() -> None:
    result = wrk.parse_output(WRK_STDOUT)
    assert result.requests == 3200
    assert result.duration_s == 10.0
    assert result.rps == 320.0
    assert result.latency_ms["p50"] == 9.8
    assert result.latency_ms["p99"] == 21.5
    assert result.unexpected_statuses == {"500": 2, "404": 1}
    assert result.errors == 3 + 1 + 2  # unexpected statuses + socket errors


def test_parse_output_without_the_result_line_fails_with_the_output() -> None:
    with pytest.raises(wrk.WrkError, match="no result line"):
        wrk.parse_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_result_as_dict_has_rates_and_cpu_shares() -> None:
    result = wrk.parse_output(WRK_STDOUT)
    result.wrk_cpu_s, result.server_cpu_s = 2.5, 9.9
    result.extra["drainSeconds"] = 1.0
    out = result.as_dict()
    assert out["rps"] == 320.0
    assert out["errors"] == 6
    assert out["wrkCpuShare"] == 0.25
    assert out["serverCpuShare"] == 0.99
    assert out["drainSeconds"] == 1.0
    json.dumps(out)


def test_request_lines() -> None:
    assert wrk.Request("GET", "/q?relatedParty.id=c1&limit=20").line() == "GET /q?relatedParty.id=c1&limit=20"
    body = {"name": "web basket", "relatedParty": {"id": "c1"}}
    assert wrk.Request("POST", "/q", body).line() == 'POST /q {"name":"web basket","relatedParty":{"id":"c1"}}'
    with pytest.raises(ValueError, match="white space"):
        wrk.Request("GET", "/q?name=a b").line()


def test_write_requests_refuses_an_empty_scenario(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no requests"):
        wrk.write_requests(tmp_path / "r.txt", [])
    path = wrk.write_requests(tmp_path / "r.txt", [wrk.Request("GET", "/a"), wrk.Request("GET", "/b")])
    assert path.read_text() == "GET /a\nGET /b\n"


def test_command_pins_wrk_and_passes_the_scenario(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(wrk.shutil, "which", lambda name: f"/usr/bin/{name}")
    argv = wrk.command("http://127.0.0.1:1", tmp_path / "r.txt", (200, 206), 10, 32, cpus="1")
    assert argv[:4] == ["taskset", "-c", "1", "/usr/bin/wrk"]
    assert "-c32" in argv and "-d10s" in argv and "-t1" in argv
    assert argv[-3:] == ["--", str(tmp_path / "r.txt"), "200,206"]
    assert wrk.command("http://x", tmp_path / "r.txt", (200,), 5, 8)[0] == "/usr/bin/wrk"
    marked = wrk.command("http://x", tmp_path / "r.txt", (201,), 5, 8, body_mark='"priority"')
    assert marked[-2:] == ["201", '"priority"']


def test_busy_share() -> None:
    assert wrk.busy_share((100.0, 400.0), (250.0, 600.0)) == 0.75
    assert wrk.busy_share((1.0, 1.0), (1.0, 1.0)) == 0.0


def run(rps: float, errors: int = 0, p99: float = 5.0) -> dict[str, Any]:
    return {"rps": rps, "errors": errors, "latencyMs": {"p50": 1.0, "p99": p99}, "wrkCpuShare": 0.1,
            "serverCpuShare": 1.0}


def result(**overrides: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "http": {
            "ours": {"getById": run(1500), "list": run(800), "createSync": run(700), "createAsync": run(1000)},
            "baseline": {"getById": run(1000), "list": run(1000), "createSync": run(900), "createAsync": run(900)},
            "oursWorkers": {"workers": 2, "getById": run(2400, errors=1)},
        },
        "rss": {"synthetic": {"offerings": 10000, "rssMB": {"VmRSS": 160.0}}},
    }
    out.update(overrides)
    return out


def test_targets_compare_the_figures_of_one_run() -> None:
    found = {t.key: t for t in report.targets(result())}
    assert found["getById"].value == 1.5 and found["getById"].met is True
    assert found["createAsync"].value == 1.111 and found["createAsync"].met is False  # >= 1.3 asked
    assert found["createSync"].value == 0.7 and found["createSync"].met is False  # sync / our async
    assert found["workers"].value == 1.6 and found["workers"].met is False
    assert found["rss10k"].value == 160.0 and found["rss10k"].met is False
    assert found["errors"].value == 1.0 and found["errors"].met is False


def test_missing_figures_are_not_judged() -> None:
    found = {t.key: t for t in report.targets({"http": {"ours": {"getById": run(10)}}})}
    assert found["getById"].value is None and found["getById"].met is None
    assert found["rss10k"].met is None
    assert found["errors"].met is True


def test_table_shows_every_scenario_with_its_ratio_and_verdict() -> None:
    text = report.render(result())
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["scenario", "ours", "req/s"]
    get_row = next(line for line in lines if line.startswith("GET by id"))
    assert "1,500" in get_row and "1.50 ours/baseline" in get_row and get_row.rstrip().endswith("yes")
    sync_row = next(line for line in lines if line.startswith("POST create, sync"))
    assert "0.70 ours/ours async" in sync_row and sync_row.rstrip().endswith("NO")
    list_row = next(line for line in lines if line.startswith("GET list"))
    assert "0.80 ours/baseline" in list_row
    assert "2 workers (unpinned), GET by id: 2,400 req/s" in text
    assert "RSS of a worker with a 10000-offering model" in text


def test_compare_shows_the_change_between_runs() -> None:
    a = result(startedAt="2026-01-01T00:00:00Z")
    b = result(startedAt="2026-01-02T00:00:00Z")
    b["http"]["ours"]["getById"] = run(1800, p99=4.0)
    text = report.compare(a, b)
    row = next(line for line in text.splitlines() if line.startswith("ours GET by id req/s"))
    assert row.split()[-3:] == ["1,500", "1,800", "+20.0%"]
    p99 = next(line for line in text.splitlines() if line.startswith("ours GET by id p99 ms"))
    assert p99.split()[-1] == "-20.0%"
    assert "not like for like" not in text


def test_compare_says_when_the_runs_were_made_differently() -> None:
    a = result(options={"duration": 10.0, "quick": False})
    b = result(options={"duration": 3.0, "quick": True})
    assert report.differing_options(a, b) == ["quick False/True", "duration 10.0/3.0"]
    assert "the runs differ in quick False/True, duration 10.0/3.0" in report.compare(a, b)
