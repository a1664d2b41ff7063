"""TM Forum event envelopes and the evaluation of a hub subscription's ``query`` against them.

One envelope for every API (``EventKind``: the resource's name in the payload, the domain, its state
attribute): TMF680's queryProductRecommendation events and TMF669's partyRole events.

A subscription query uses the list-filter syntax (``eventType=X&event.queryProductRecommendation.state=done``,
comma OR, ``.gt``/``.ne``/... operators) evaluated on the event document itself.

Regular expressions come from subscribers and the values they meet from anyone who creates a query, and
the relay evaluates them in-process: they run under the ``regex`` module with a time limit (the stdlib
``re`` has none, and ``^(a|a)*$`` against 64 ``a`` and a ``!`` would hold the relay for ages). A pattern
that runs out of time counts as not matching, as MongoDB's regex engine does at its match limit.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import regex

from services.dates import parse_date_time
from services.list_query import Filter, parse_filters

CREATE_EVENT = "QueryProductRecommendationCreateEvent"
STATE_CHANGE_EVENT = "QueryProductRecommendationStateChangeEvent"
DOMAIN = "recommendationManagement"


@dataclass(frozen=True)
class EventKind:
    """The events of one resource type: ``resource`` is its name in ``event`` (and in the event types),
    ``state`` the attribute a state change event reports."""

    resource: str
    domain: str
    state: str = "state"

    def event_type(self, change: str) -> str:
        """``Create`` → ``PartyRoleCreateEvent`` (the document's names)."""
        return f"{self.resource[:1].upper()}{self.resource[1:]}{change}Event"


RECOMMENDATION_EVENTS = EventKind("queryProductRecommendation", DOMAIN)
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")
REGEX_TIMEOUT_S = 0.05  # per value searched; a legitimate pattern scans a 1 MiB value in a few ms
log = logging.getLogger(__name__)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _title(kind: EventKind, event_type: str, resource: dict[str, Any]) -> str:
    if event_type == kind.event_type("StateChange"):
        return f"{kind.state} is now {resource.get(kind.state)}"
    if event_type == kind.event_type("Create"):
        return f"{kind.resource} created"
    if event_type == kind.event_type("Delete"):
        return f"{kind.resource} deleted"
    return f"{kind.resource} attributes changed"


def new_event(event_type: str, resource: dict[str, Any], now: datetime, event_id: str | None = None,
              kind: EventKind = RECOMMENDATION_EVENTS) -> dict[str, Any]:
    """The envelope the documents define, with the resource as it is after the change (as it was,
    for a delete)."""
    title = _title(kind, event_type, resource)
    return {
        "eventId": event_id or str(uuid.uuid4()),
        "eventTime": iso(now),
        "eventType": event_type,
        "correlationId": str(resource.get("id", "")),
        "domain": kind.domain,
        "title": title,
        "description": title if title.startswith(kind.resource) else f"{kind.resource} {title}",
        "priority": "normal",
        "timeOcurred": iso(now),
        "event": {kind.resource: resource},
    }


EventFactory = Callable[[str, dict[str, Any]], dict[str, Any]]


def event_factory(clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                  kind: EventKind = RECOMMENDATION_EVENTS) -> EventFactory:
    return lambda event_type, resource: new_event(event_type, resource, clock(), kind=kind)


def _values(document: Any, path: tuple[str, ...]) -> Iterator[Any]:
    """Every value at ``path``, arrays searched element-wise (as MongoDB does)."""
    if isinstance(document, list):
        for item in document:
            yield from _values(item, path)
        return
    if not path:
        yield document
        return
    if isinstance(document, dict) and path[0] in document:
        yield from _values(document[path[0]], path[1:])


def _comparable(value: Any, text: str) -> tuple[Any, Any] | None:
    """(stored, wanted) in one comparable type, or None when they cannot be compared."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and _NUMBER.match(text):
        return value, float(text)
    if isinstance(value, str):
        left, right = parse_date_time(value), parse_date_time(text)
        if left is not None and right is not None:
            return left, right
        return value, text
    return None


def _equal(value: Any, text: str) -> bool:
    if isinstance(value, bool):
        return text.lower() == str(value).lower()
    pair = _comparable(value, text)
    return pair is not None and pair[0] == pair[1]


_ORDER = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b}


def _matches_filter(document: dict[str, Any], flt: Filter) -> bool:
    values = list(_values(document, flt.path))
    if flt.op == "eq":
        return any(_equal(v, text) for v in values for text in flt.values)
    if flt.op == "ne":
        return not any(_equal(v, text) for v in values for text in flt.values)
    if flt.op == "regex":
        return _regex_search(flt.values[0], values)
    compare = _ORDER[flt.op]
    for value in values:
        for text in flt.values:
            pair = _comparable(value, text)
            if pair is not None and compare(*pair):
                return True
    return False


def _regex_search(pattern: str, values: list[Any]) -> bool:
    try:
        compiled = regex.compile(pattern)
        return any(isinstance(v, str) and compiled.search(v, timeout=REGEX_TIMEOUT_S) for v in values)
    except (TimeoutError, regex.error) as exc:  # never an exception in the relay: it would retry forever
        log.warning("subscription regex %r counted as not matching: %s", pattern, exc)
        return False


def compile_query(query: str | None) -> tuple[Filter, ...]:
    """Parse a subscription query once (raises ``InvalidRequest`` when it cannot be evaluated)."""
    if not query:
        return ()
    return parse_filters(parse_qsl(query.lstrip("?"), keep_blank_values=True), reserved=("fields",))


def matches(filters: tuple[Filter, ...], event: dict[str, Any]) -> bool:
    """Whether an event passes every filter of a subscription (no filter: every event)."""
    return all(_matches_filter(event, flt) for flt in filters)
