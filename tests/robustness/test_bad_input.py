"""Bad input against a real ``tmf680 serve`` process on the real mongod: every case is answered with the
exact 4xx and a TMF ``Error`` body, or with a correct answer, never a 5xx; after every case the service is
still healthy (``/health/live`` 200, and a create then its retrieve still work).

The server runs with a small ``TMF680_QUERY_TIMEOUT_MS`` (500 ms) so that an expensive filter is cut short.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from harness import QPR, Server, assert_healthy, assert_tmf_error, running

BASE = QPR.rsplit("/", 1)[0]
HUB = f"{BASE}/hub"
CREATE_EVENT = f"{BASE}/listener/queryProductRecommendationCreateEvent"
JSON = {"Content-Type": "application/json"}
QUERY_TIMEOUT_MS = 500
MAX_BODY = 1_048_576  # TMF680_MAX_BODY_BYTES default


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str) -> Iterator[Server]:
    with running("serve", tmp_path_factory.mktemp("bad-input"), mongo_uri,
                 TMF680_QUERY_TIMEOUT_MS=str(QUERY_TIMEOUT_MS), TMF680_WORKERS="false",
                 TMF680_VALIDATE_RESPONSES="true", TMF680_CALLBACK_ALLOW="127.0.0.1") as server:
        yield server


@pytest.fixture(scope="module")
def seeded(api: Server) -> list[dict[str, Any]]:
    """A few stored queries, so that a filter that 'matches everything' would be seen doing it."""
    with httpx.Client(base_url=api.url, timeout=10) as client:
        out = []
        for i in range(3):
            created = client.post(QPR, json={"name": f"seed {i}", "description": "seed",
                                             "validFor": {"startDateTime": "2024-01-01T00:00:00Z"}})
            assert created.status_code == 201
            out.append(created.json())
        return out


@pytest.fixture
def client(api: Server, seeded: list[dict[str, Any]]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=30) as http:
        yield http
    assert_healthy(api.url)  # after every case


def nested(depth: int, leaf: str = "1") -> str:
    return '{"a":' * depth + leaf + "}" * depth


def chunks(total: int) -> Iterator[bytes]:
    """A chunked body (no Content-Length) of ``total`` bytes."""
    sent = 0
    while sent < total:
        size = min(65536, total - sent)
        sent += size
        yield b"x" * size


@dataclass(frozen=True)
class Case:
    name: str
    send: Callable[[httpx.Client], httpx.Response]
    status: int


def post(path: str, body: bytes, headers: dict[str, str] | None = None) -> Callable[[httpx.Client], httpx.Response]:
    return lambda c: c.post(path, content=body, headers=JSON if headers is None else headers)


def post_json(path: str, value: Any) -> Callable[[httpx.Client], httpx.Response]:
    return lambda c: c.post(path, json=value)


def get(path: str, params: Any = None) -> Callable[[httpx.Client], httpx.Response]:
    return lambda c: c.get(path, params=params)


REJECTED = [
    # malformed, truncated and non-JSON bodies
    Case("malformed JSON", post(QPR, b'{"name": '), 400),
    Case("truncated JSON", post(QPR, b'{"name": "x"'), 400),
    Case("trailing garbage", post(QPR, b'{"name": "x"} {}'), 400),
    Case("single quotes", post(QPR, b"{'name': 'x'}"), 400),
    Case("empty body", post(QPR, b""), 400),
    Case("null body", post(QPR, b"null"), 400),
    Case("array body", post(QPR, b"[1, 2]"), 400),
    Case("NaN", post(QPR, b'{"name": "x", "n": NaN}'), 400),
    Case("number overflowing to infinity", post(QPR, b'{"n": 1e999}'), 400),
    # encodings
    Case("invalid UTF-8", post(QPR, b'{"name": "\xff\xfe"}'), 400),
    Case("overlong UTF-8", post(QPR, b'{"name": "\xc0\xae"}'), 400),
    Case("lone surrogate escape", post(QPR, b'{"name": "\\ud800"}'), 400),
    Case("lone surrogate in a key", post(QPR, b'{"\\udfff": 1}'), 400),
    # wrong types, one per kind of attribute the document declares
    Case("string attribute given a number", post_json(QPR, {"name": 5}), 400),
    Case("boolean attribute given a string", post_json(QPR, {"instantSyncRecommendation": "yes"}), 400),
    Case("object attribute given an array", post_json(QPR, {"relatedParty": []}), 400),
    Case("array attribute given an object", post_json(QPR, {"channel": {"id": "web"}}), 400),
    Case("array item given a string", post_json(QPR, {"channel": ["web"]}), 400),
    Case("reference missing its required type", post_json(QPR, {"relatedParty": {"id": 5}}), 400),
    Case("enumeration given an unknown value", post_json(QPR, {"state": "bogus"}), 400),
    Case("date-time given a non-date", post_json(QPR, {"validFor": {"startDateTime": "yesterday"}}), 400),
    Case("date-time given an impossible date", post_json(QPR, {"validFor": {"endDateTime": "2024-13-45T25:61:00Z"}}),
         400),
    Case("uri given a non-URI", post_json(QPR, {"@schemaLocation": "not a uri \x01"}), 400),
    Case("required nested object missing", post_json(QPR, {"recommendationItem": [{"priority": 1}]}), 400),
    Case("hub callback given a number", post_json(HUB, {"callback": 5}), 400),
    Case("hub without callback", post_json(HUB, {"query": "state=done"}), 400),
    Case("hub query given a number", post_json(HUB, {"callback": "http://127.0.0.1:9/", "query": 5}), 400),
    Case("hub query with an invalid regex", post_json(HUB, {"callback": "http://127.0.0.1:9/", "query": "a.regex=("}),
         400),
    Case("hub callback not http(s)", post_json(HUB, {"callback": "file:///etc/passwd"}), 400),
    Case("listener event given a number", post_json(CREATE_EVENT, {"event": 5}), 400),
    # sizes and depth
    Case("body over the size limit", post(QPR, b'{"name": "' + b"x" * MAX_BODY + b'"}'), 413),
    Case("chunked body over the size limit", lambda c: c.post(QPR, content=chunks(MAX_BODY + 1), headers=JSON), 413),
    Case("10,000 nested objects", post(QPR, nested(10_000).encode()), 400),
    Case("10,000 nested arrays", post(QPR, ("[" * 10_000 + "]" * 10_000).encode()), 400),
    Case("300 nested objects (deeper than MongoDB stores)", post(QPR, f'{{"n": {nested(300)}}}'.encode()), 400),
    Case("200 nested objects in a listener event", post(CREATE_EVENT, json.dumps(
        {"eventType": "QueryProductRecommendationCreateEvent",
         "event": {"queryProductRecommendation": {"id": "1", "x": "@"}}}).replace('"@"', nested(200)).encode()), 400),
    # media types
    Case("text/plain", post(QPR, b'{"name": "x"}', {"Content-Type": "text/plain"}), 415),
    Case("application/xml", post(QPR, b"<name>x</name>", {"Content-Type": "application/xml"}), 415),
    Case("form encoded", post(QPR, b"name=x", {"Content-Type": "application/x-www-form-urlencoded"}), 415),
    Case("multipart", lambda c: c.post(QPR, files={"f": b'{"name": "x"}'}), 415),
    Case("no Content-Type", post(QPR, b'{"name": "x"}', {}), 415),
    Case("hub as text/plain", post(HUB, b'{"callback": "http://127.0.0.1:9/"}', {"Content-Type": "text/plain"}), 415),
    # list parameters
    Case("negative offset", get(QPR, {"offset": "-1"}), 400),
    Case("negative limit", get(QPR, {"limit": "-5"}), 400),
    Case("offset not an integer", get(QPR, {"offset": "1e3"}), 400),
    Case("limit not an integer", get(QPR, {"limit": "1.5"}), 400),
    Case("empty limit", get(QPR, {"limit": ""}), 400),
    Case("duplicate limit, one invalid", get(QPR, [("limit", "1"), ("limit", "abc")]), 400),
    Case("invalid regular expression", get(QPR, {"name.regex": "(a"}), 400),
    Case("regular expression over 256 characters", get(QPR, {"name.regex": "a" * 257}), 400),
    Case("filter value over 1024 characters", get(QPR, {"name": "x" * 1025}), 400),
    Case("more than 32 filters", get(QPR, {f"f{i}": "x" for i in range(33)}), 400),
    Case("more than 100 values in one filter", get(QPR, {"state": ",".join(["done"] * 101)}), 400),
    Case("filter path deeper than 8", get(QPR, {".".join("a" * 9): "x"}), 400),
    Case("filter attribute with a blank", get(QPR, {"na me": "x"}), 400),
    # methods the document does not define
    Case("PATCH a query", lambda c: c.patch(f"{QPR}/x", json={}), 405),
    Case("DELETE the collection", lambda c: c.delete(QPR), 405),
]


@pytest.mark.parametrize("case", REJECTED, ids=[c.name for c in REJECTED])
def test_rejected_with_a_tmf_error(client: httpx.Client, case: Case) -> None:
    assert_tmf_error(case.send(client), case.status)


def listed(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code in (200, 206), response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    items = response.json()
    assert isinstance(items, list) and response.headers["x-result-count"] == str(len(items))
    return items


@pytest.mark.parametrize("params", [
    {"$where": "1 == 1"},
    {"$where": "function() { return true; }"},
    {"name[$ne]": "nothing"},
    {"name.$ne": "nothing"},
    {"name": '{"$ne": null}'},
    {"name": '{"$gt": ""}'},
    {"$or": '[{"name": {"$exists": true}}]'},
    {"description.$regex": ".*"},
    {"description[$regex]": ".*"},
    {"$expr": "true"},
], ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
def test_operators_in_filters_are_data_and_match_nothing(client: httpx.Client, params: dict[str, str]) -> None:
    """Each of these would match every stored query if it reached MongoDB as an operator; as data (an
    escaped attribute path or a literal value) it matches none of the seeded queries."""
    assert listed(client.get(QPR, params=params)) == []


@pytest.mark.parametrize("params", [
    {"name.like": "seed 0"}, {"name.exists": "true"}, {"name.in": "seed 0"}, {"name.eq": "seed 0"},
], ids=lambda p: next(iter(p)))
def test_unknown_operators_are_nested_attribute_paths(client: httpx.Client, params: dict[str, str]) -> None:
    """TMF630 reads ``a.b`` as the nested attribute ``b`` of ``a``: an unknown operator suffix names an
    attribute no query has, so the correct answer is an empty list (200), not an error and never a match."""
    assert listed(client.get(QPR, params=params)) == []


def test_dollar_keys_in_bodies_are_stored_as_data(client: httpx.Client) -> None:
    """``$where``, ``$``-keys, operator objects and dotted keys are kept verbatim and never executed (a
    ``$where: sleep(...)`` that ran would hold the request; an operator object that ran would not be
    given back as sent)."""
    body = {"name": "dollar keys", "$where": "sleep(5000) || true", "note": {"$gt": "", "$ne": None},
            "a.b": {"$set": {"state": "done"}}, "%24where": "percent", "nested": [{"$in": [1, 2]}],
            "instantSyncRecommendation": False}  # stays accepted (no workers here): the $set did not run
    started = time.monotonic()
    created = client.post(QPR, json=body)
    assert created.status_code == 201, created.text
    assert time.monotonic() - started < 4  # the sleep did not run
    got = client.get(f"{QPR}/{created.json()['id']}").json()
    assert {k: got[k] for k in body} == body
    assert got["state"] == "accepted"
    # found by a filter on the stored value, not run as an operator
    assert [q["id"] for q in listed(client.get(QPR, params={"$where": "sleep(5000) || true"}))] == [got["id"]]


@pytest.mark.parametrize("pattern", ["(a+)+$", "^(a|a)*$", "(a|aa)+$", "^(a+)+b", "^(([a-z])+.)+[A-Z]([a-z])+$"])
def test_regex_denial_of_service_is_bounded(client: httpx.Client, pattern: str) -> None:
    """Catastrophic-backtracking patterns against long ``aaaa…!`` values in stored documents.

    Decision: the answer must come within the query timeout (``maxTimeMS`` = ``TMF680_QUERY_TIMEOUT_MS``,
    500 ms here) plus a margin, and be either a correct result (none of these patterns matches an
    ``a…a!`` value) or a 400 TMF Error ("the query took too long"). MongoDB's PCRE also stops a single match
    at its match limit, which makes such a document count as non-matching: the server never hangs.
    """
    for length in (30, 5_000, 200_000):
        assert client.post(QPR, json={"name": "a" * length + "!", "description": "redos"}).status_code == 201
    started = time.monotonic()
    response = client.get(QPR, params={"name.regex": pattern, "description": "redos"})
    elapsed = time.monotonic() - started
    assert elapsed < QUERY_TIMEOUT_MS / 1000 + 5, f"{elapsed:.1f} s"
    if response.status_code == 400:
        assert "too long" in assert_tmf_error(response, 400)["message"]
    else:
        assert listed(response) == []


def test_a_query_over_its_time_limit_is_a_400(client: httpx.Client, fail_point: Callable[..., None]) -> None:
    """Whatever makes a list query exceed ``maxTimeMS`` (forced here by mongod's ``maxTimeAlwaysTimeOut``
    fail point), the client gets a 400 TMF Error telling it to narrow the filter, not a 500."""
    fail_point("maxTimeAlwaysTimeOut")
    body = assert_tmf_error(client.get(QPR, params={"name.regex": "^seed"}), 400)
    assert "too long" in body["message"]


def test_invalid_dates_in_filters_compare_as_text(client: httpx.Client, seeded: list[dict[str, Any]]) -> None:
    """A filter value that is not an RFC 3339 date-time is compared as text (TMF630 filters are untyped):
    a correct answer, not an error. "2024-01-01T…" sorts before "2024-13-45…", so no seeded query is later."""
    assert listed(client.get(QPR, params={"validFor.startDateTime.gt": "2024-13-45T99:00:00Z"})) == []
    assert listed(client.get(QPR, params={"validFor.startDateTime": "not a date"})) == []
    seeded_ids = {q["id"] for q in seeded}
    earlier = listed(client.get(QPR, params={"validFor.startDateTime.lt": "2024-13-45T99:00:00Z", "limit": 1000}))
    assert seeded_ids <= {q["id"] for q in earlier}


def test_huge_offset_and_limit(client: httpx.Client) -> None:
    total = int(client.get(QPR, params={"limit": 0}).headers["x-total-count"])
    for offset in (str(10**30), str(2**63), str(2**63 - 1)):
        response = client.get(QPR, params={"offset": offset})
        assert listed(response) == [] and response.headers["x-total-count"] == str(total)
    response = client.get(QPR, params={"limit": str(10**30)})
    assert len(listed(response)) == total and response.status_code == 200


def test_unknown_fields_select_nothing(client: httpx.Client) -> None:
    """Names no query has (operators, paths, 2,000 of them) select nothing: TMF630 says not an error."""
    names = ["nope", "$nothing", "a.b.c", "../x", *(f"f{i}" for i in range(2000))]
    items = listed(client.get(QPR, params={"fields": ",".join(names)}))
    assert items and all(set(item) == {"id", "href"} for item in items)


def test_duplicate_query_parameters(client: httpx.Client, seeded: list[dict[str, Any]]) -> None:
    """A repeated ``offset`` is answered with one of the values' pages; a repeated filter is an OR
    (TMF630); a repeated ``fields`` selects with one of them."""
    pages = [listed(client.get(QPR, params={"offset": n, "limit": 1}))[0]["id"] for n in (0, 1)]
    twice = listed(client.get(QPR, params=[("offset", "0"), ("offset", "1"), ("limit", "1")]))
    assert len(twice) == 1 and twice[0]["id"] in pages
    either = listed(client.get(QPR, params=[("name", "seed 0"), ("name", "seed 1")]))
    assert sorted(q["name"] for q in either) == ["seed 0", "seed 1"]
    selected = listed(client.get(QPR, params=[("fields", "name"), ("fields", "state"), ("description", "seed")]))
    assert len(selected) == 3
    assert all(set(q) - {"id", "href"} in ({"name"}, {"state"}, {"name", "state"}) for q in selected)


def test_huge_strings_arrays_and_allowed_depth_round_trip(client: httpx.Client) -> None:
    """Under the size limit and MongoDB's depth, big bodies are stored and given back as sent."""
    body = {"name": "big", "description": "é" * 300_000, "channel": [{"id": str(i)} for i in range(15_000)],
            "note": json.loads(nested(100))}
    created = client.post(QPR, json=body)
    assert created.status_code == 201, created.text[:300]
    got = client.get(f"{QPR}/{created.json()['id']}").json()
    assert {k: got[k] for k in body} == body


def raw_get(url: str, target: bytes) -> tuple[int, bytes]:
    """Send ``GET target`` exactly as given (no client-side normalisation of ``..`` or escapes)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        decoded, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            decoded, rest = decoded + rest[:size], rest[size + 2:]
        body = decoded
    return status, body


@pytest.mark.parametrize("suffix", [
    b"/../../../etc/passwd", b"/..%2F..%2Fetc%2Fpasswd", b"/..%2f..%2f", b"/%2e%2e/%2e%2e/etc/passwd",
    b"/a%2Fb", b"/..\\..\\windows\\win.ini", b"/%c0%ae%c0%ae/x", b"/abc%00def", b"/%00", b"/%ff%fe",
    b"/./x", b"/" + b"a" * 8000, b"/%252e%252e%252f",
], ids=lambda s: s[:24].decode("latin-1"))
def test_path_traversal_in_ids_is_a_404(api: Server, client: httpx.Client, suffix: bytes) -> None:
    for prefix in (QPR.encode(), HUB.encode()):
        status, body = raw_get(api.url, prefix + suffix)
        assert status in (404, 405), (status, body[:200])  # DELETE-only /hub/{id}: a GET is a 405
        error = json.loads(body)
        assert error["@type"] == "Error" and error["code"] == str(status)
    deleted = client.delete(HUB + suffix.decode("latin-1"))
    assert deleted.status_code == 404


@pytest.mark.parametrize("target", [b"/a\x00b", b"/\xff", b"?fields=" + b"a," * 500_000],
                         ids=["raw NUL", "raw 0xff", "1 MB request line"])
def test_bytes_the_http_parser_refuses(api: Server, target: bytes) -> None:
    """A raw NUL or non-ASCII byte in the request line, or a request line of a megabyte, never reaches the
    application: uvicorn's HTTP parser answers 400 (its own plain-text body) and the service carries on."""
    status, _ = raw_get(api.url, QPR.encode() + target)
    assert status == 400
    assert_healthy(api.url)
