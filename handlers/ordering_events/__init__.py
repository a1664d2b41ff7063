"""TMF622 Product Ordering v4.0.0: the listener operations (events from an order system's hub)."""

from __future__ import annotations

from handlers.inbound_listener import Handler, operations

EVENT_TYPES = (
    "ProductOrderCreateEvent", "ProductOrderAttributeValueChangeEvent", "ProductOrderDeleteEvent",
    "ProductOrderStateChangeEvent", "ProductOrderInformationRequiredEvent",
    "CancelProductOrderCreateEvent", "CancelProductOrderStateChangeEvent",
    "CancelProductOrderInformationRequiredEvent",
)
OPERATIONS: dict[str, Handler] = operations(EVENT_TYPES)
