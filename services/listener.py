"""The client-side listener: events this server receives from another TMF680 server."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.errors import InvalidRequest
from services.events import CREATE_EVENT, STATE_CHANGE_EVENT
from services.ports import Document, ListenerEventRepository

__all__ = ["CREATE_EVENT", "STATE_CHANGE_EVENT", "ListenerService"]


class ListenerService:
    def __init__(
        self,
        repository: ListenerEventRepository,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repo = repository
        self._new_id = new_id
        self._clock = clock

    def receive(self, event_type: str, event: dict[str, Any]) -> Document:
        """Keep one received event; an event of another type than the endpoint's is refused."""
        sent_type = event.get("eventType")
        if sent_type is not None and sent_type != event_type:
            raise InvalidRequest(f"this listener receives {event_type}, not {sent_type!r}")
        record: Document = {
            "id": self._new_id(),
            "eventType": event_type,
            "eventId": event.get("eventId"),
            "receivedAt": self._clock(),
            "event": event,
        }
        self._repo.add(record)
        return record

    def recent(self, limit: int = 20, event_type: str | None = None) -> list[Document]:
        return self._repo.recent(limit, event_type)
