"""A small TMF620 server for catalogue sync tests: list endpoints with offset/limit, X-Total-Count and
one transient 503."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

OFFERINGS = [
    {"id": "dsl", "name": "DSL", "category": [{"id": "internet"}], "lifecycleStatus": "Active"},
    {"id": "tv", "name": "TV", "category": [{"id": "tv"}],
     "productOfferingRelationship": [{"id": "dsl", "relationshipType": "requires"}]},
    {"id": "phone", "name": "Phone"},
]
CATEGORIES = [{"id": "internet", "name": "Internet", "isRoot": True}, {"id": "tv", "name": "TV", "isRoot": True}]


class Tmf620(BaseHTTPRequestHandler):
    """A small TMF620 list endpoint with offset/limit, X-Total-Count and one transient 503."""

    failures_left = 1
    calls: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        Tmf620.calls.append(self.path)
        resource = url.path.rsplit("/", 1)[-1]
        if resource == "productOffering" and Tmf620.failures_left:
            Tmf620.failures_left -= 1
            self.send_response(503)
            self.end_headers()
            return
        data = {"category": CATEGORIES, "productOffering": OFFERINGS}.get(resource)
        if data is None:
            self.send_response(404)
            self.end_headers()
            return
        query = parse_qs(url.query)
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        body = json.dumps(data[offset: offset + limit]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Total-Count", str(len(data)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass
