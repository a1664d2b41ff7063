"""TMF669 Party Role Management: one handler per operationId of ``openapi/tmf669``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers.notifications import hub_operations, listener_operation
from handlers.party_role import party_role
from services.party_roles import ATTRIBUTE_VALUE_CHANGE_EVENT, CREATE_EVENT, DELETE_EVENT, STATE_CHANGE_EVENT

HUB = "partyRole"  # services().hubs key, and the tag of this hub's subscriptions
register, unregister = hub_operations(HUB)

OPERATIONS: dict[str, Callable[..., Any]] = {
    "createPartyRole": party_role.create,
    "listPartyRole": party_role.list_,
    "retrievePartyRole": party_role.retrieve,
    "patchPartyRole": party_role.patch,
    "deletePartyRole": party_role.delete,
    "registerListener": register,
    "unregisterListener": unregister,
    "listenToPartyRoleCreateEvent": listener_operation(CREATE_EVENT),
    "listenToPartyRoleAttributeValueChangeEvent": listener_operation(ATTRIBUTE_VALUE_CHANGE_EVENT),
    "listenToPartyRoleStateChangeEvent": listener_operation(STATE_CHANGE_EVENT),
    "listenToPartyRoleDeleteEvent": listener_operation(DELETE_EVENT),
}
