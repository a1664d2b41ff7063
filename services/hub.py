"""Event subscriptions: register and unregister listeners (delivery is a later concern)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate

from services.errors import InvalidRequest, NotFound
from services.events import compile_query
from services.ports import Document, HubRepository

MAX_CALLBACK_LENGTH = 2048
MAX_QUERY_LENGTH = 2048


def _absolute_http_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise ValidationError("must be an absolute http(s) URL")
    if parts.username or parts.password:
        raise ValidationError("must not carry credentials")
    try:
        parts.port  # noqa: B018 - raises ValueError on an invalid port
    except ValueError as exc:
        raise ValidationError("has an invalid port") from exc


class SubscriptionInput(Schema):
    """``EventSubscriptionInput`` as the hub accepts it (beyond the spec's types)."""

    callback = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=MAX_CALLBACK_LENGTH), _absolute_http_url],
    )
    query = fields.String(load_default=None, allow_none=True,
                          validate=validate.Length(max=MAX_QUERY_LENGTH))

    class Meta:
        unknown = "exclude"


class CallbackCheck(Protocol):
    def check(self, url: str) -> list[str]: ...


class DeliveryCanceller(Protocol):
    def cancel(self, subscription_id: str) -> int: ...


class HubService:
    """The hub of one API: ``api`` tags its subscriptions (None: TMF680's, as stored by earlier
    versions), so each gets only its own API's events and is unregistered only through its hub."""

    def __init__(self, repository: HubRepository, new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
                 policy: CallbackCheck | None = None, deliveries: DeliveryCanceller | None = None,
                 api: str | None = None) -> None:
        self._repo = repository
        self.api = api
        self._new_id = new_id
        self._policy = policy
        self._deliveries = deliveries

    def register(self, payload: dict[str, Any], owner: str | None = None) -> Document:
        try:
            data = SubscriptionInput().load(payload)
        except ValidationError as exc:
            details = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in sorted(exc.messages_dict.items()))
            raise InvalidRequest(f"invalid subscription: {details}") from exc
        if self._policy is not None:
            self._policy.check(data["callback"])  # loopback/private/metadata callbacks are refused
        compile_query(data["query"])  # reject a query that could never be evaluated
        subscription: Document = {"id": self._new_id(), "callback": data["callback"]}
        if data["query"] is not None:
            subscription["query"] = data["query"]
        self._repo.add(subscription, owner=owner, api=self.api)
        return subscription

    def unregister(self, subscription_id: str, owner: str | None = None) -> None:
        """Remove a subscription; with an ``owner``, only one that party registered (another's is
        NotFound, as an unknown id)."""
        if not self._repo.delete(subscription_id, owner=owner, api=self.api):
            raise NotFound(f"no hub subscription with id {subscription_id!r}")
        if self._deliveries is not None:
            self._deliveries.cancel(subscription_id)
