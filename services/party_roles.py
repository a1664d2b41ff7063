"""partyRole (TMF669 Party Role Management): create, retrieve, list, merge-patch, delete, with the
events the document declares, the canvas system role, and the rights token roles are mapped to.

Rights rule (``rights_of``): a stored party role grants the rights its ``characteristic`` named
``rights`` lists (``read``, ``write``; its ``value`` an array of strings or a comma-separated
string) to a token that carries a role equal to its ``name``. Other characteristics, ``status``
and ``validFor`` do not enter into it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from services.errors import Conflict, InvalidRequest, NotFound
from services.events import EventFactory, EventKind, event_factory
from services.list_query import ListQuery
from services.merge_patch import merge_patch
from services.ports import Document, Page, PartyRoleRepository

RESOURCE_TYPE = "PartyRole"
SERVER_OWNED = ("id", "href")
PARTY_ROLE_EVENTS = EventKind("partyRole", "partyRoleManagement", state="status")
CREATE_EVENT = PARTY_ROLE_EVENTS.event_type("Create")
ATTRIBUTE_VALUE_CHANGE_EVENT = PARTY_ROLE_EVENTS.event_type("AttributeValueChange")
STATE_CHANGE_EVENT = PARTY_ROLE_EVENTS.event_type("StateChange")
DELETE_EVENT = PARTY_ROLE_EVENTS.event_type("Delete")
READ, WRITE = "read", "write"
RIGHTS = "rights"
PATCH_ATTEMPTS = 5  # concurrent changes of one role before a PATCH gives up with 409


def rights_of(role: Document) -> frozenset[str]:
    """The rights (``read``/``write``) one party role's ``rights`` characteristic lists."""
    out: set[str] = set()
    for characteristic in role.get("characteristic") or []:
        if not isinstance(characteristic, dict) or characteristic.get("name") != RIGHTS:
            continue
        value = characteristic.get("value")
        items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
        out.update(str(item).strip().lower() for item in items if isinstance(item, str))
    return frozenset(out & {READ, WRITE})


class PartyRoleService:
    def __init__(self, repository: PartyRoleRepository, new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
                 events: EventFactory | None = None) -> None:
        self._repo = repository
        self._new_id = new_id
        self._events = events or event_factory(kind=PARTY_ROLE_EVENTS)

    def _new(self, payload: dict[str, Any], collection_url: str) -> Document:
        resource_id = self._new_id()
        resource: Document = {
            "id": resource_id,
            "href": f"{collection_url.rstrip('/')}/{resource_id}",
            **{k: v for k, v in payload.items() if k not in SERVER_OWNED},
        }
        resource.setdefault("@type", RESOURCE_TYPE)
        return resource

    def create(self, payload: dict[str, Any], collection_url: str, owner: str | None = None) -> Document:
        """Store a new party role; ``id``/``href`` are the server's, every other attribute is kept."""
        resource = self._new(payload, collection_url)
        self._repo.add(resource, [self._events(CREATE_EVENT, resource)], owner=owner)
        return resource

    def retrieve(self, resource_id: str, fields: tuple[str, ...] | None = None,
                 owner: str | None = None) -> Document:
        found = self._repo.get(resource_id, fields, owner=owner)
        if found is None:
            raise NotFound(f"no partyRole with id {resource_id!r}")
        return found

    def list(self, query: ListQuery, owner: str | None = None) -> Page:
        return self._repo.list(query, owner=owner)

    def patch(self, resource_id: str, patch: dict[str, Any], owner: str | None = None) -> Document:
        """Apply a JSON Merge Patch. ``id`` and ``href`` stay the server's (ignored in the patch);
        ``name`` cannot be removed. A change emits ``PartyRoleAttributeValueChangeEvent``, and also
        ``PartyRoleStateChangeEvent`` when ``status`` changed; a patch that changes nothing, none."""
        wanted = {k: v for k, v in patch.items() if k not in SERVER_OWNED}
        for _ in range(PATCH_ATTEMPTS):
            found = self._repo.get_revision(resource_id, owner=owner)
            if found is None:
                raise NotFound(f"no partyRole with id {resource_id!r}")
            current, revision = found
            changed = merge_patch(current, wanted)
            if not isinstance(changed.get("name"), str):
                raise InvalidRequest("a partyRole keeps its name: the patch cannot remove it")
            if changed == current:
                return current
            events = [self._events(ATTRIBUTE_VALUE_CHANGE_EVENT, changed)]
            if changed.get("status") != current.get("status"):
                events.append(self._events(STATE_CHANGE_EVENT, changed))
            if self._repo.replace(changed, revision, events):
                return changed
        raise Conflict(f"partyRole {resource_id!r} kept changing; retry the PATCH")

    def delete(self, resource_id: str, owner: str | None = None) -> None:
        """Remove a party role; ``PartyRoleDeleteEvent`` carries it as it was."""
        current = self._repo.get(resource_id, owner=owner)
        if current is None or not self._repo.delete(resource_id, self._events(DELETE_EVENT, current), owner=owner):
            raise NotFound(f"no partyRole with id {resource_id!r}")

    def ensure_system_role(self, name: str, collection_url: str) -> bool:
        """Make sure the role an ODA Canvas looks for exists (with every right); idempotent, and safe
        when several processes start at once. True when this call created it."""
        resource = self._new({"name": name, "status": "active",
                              "characteristic": [{"name": RIGHTS, "valueType": "array", "value": [READ, WRITE]}]},
                             collection_url)
        return self._repo.seed(name, resource, [self._events(CREATE_EVENT, resource)])

    def rights(self, roles: Iterable[str]) -> frozenset[str]:
        """Every right the stored party roles named by ``roles`` grant together."""
        out: frozenset[str] = frozenset()
        for role in self._repo.named(roles):
            out |= rights_of(role)
        return out
