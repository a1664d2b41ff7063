"""TMF637 Product Inventory v4.0.0: the listener operations (events from an inventory's hub)."""

from __future__ import annotations

from handlers.inbound_listener import Handler, operations

EVENT_TYPES = ("ProductCreateEvent", "ProductAttributeValueChangeEvent", "ProductStateChangeEvent",
               "ProductBatchEvent", "ProductDeleteEvent")
OPERATIONS: dict[str, Handler] = operations(EVENT_TYPES)
