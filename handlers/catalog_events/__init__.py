"""TMF620 Product Catalog Management v4.1.0: the listener operations (events from a catalogue's hub)."""

from __future__ import annotations

from handlers.inbound_listener import Handler, operations

EVENT_TYPES = (
    "CatalogCreateEvent", "CatalogAttributeValueChangeEvent", "CatalogStateChangeEvent", "CatalogDeleteEvent",
    "CatalogBatchEvent",
    "CategoryCreateEvent", "CategoryAttributeValueChangeEvent", "CategoryStateChangeEvent", "CategoryDeleteEvent",
    "ProductOfferingCreateEvent", "ProductOfferingAttributeValueChangeEvent", "ProductOfferingStateChangeEvent",
    "ProductOfferingDeleteEvent",
    "ProductOfferingPriceCreateEvent", "ProductOfferingPriceAttributeValueChangeEvent",
    "ProductOfferingPriceStateChangeEvent", "ProductOfferingPriceDeleteEvent",
    "ProductSpecificationCreateEvent", "ProductSpecificationAttributeValueChangeEvent",
    "ProductSpecificationStateChangeEvent", "ProductSpecificationDeleteEvent",
)
OPERATIONS: dict[str, Handler] = operations(EVENT_TYPES)
