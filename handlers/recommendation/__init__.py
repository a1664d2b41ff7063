"""TMF680 Recommendation Management: one handler per operationId of ``openapi/tmf680``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers.notifications import hub_operations, listener_operation
from handlers.recommendation import query_product_recommendation
from services.events import CREATE_EVENT, STATE_CHANGE_EVENT

HUB = "recommendation"  # services().hubs key
register, unregister = hub_operations(HUB)

OPERATIONS: dict[str, Callable[..., Any]] = {
    "createQueryProductRecommendation": query_product_recommendation.create,
    "listQueryProductRecommendation": query_product_recommendation.list_,
    "retrieveQueryProductRecommendation": query_product_recommendation.retrieve,
    "registerListener": register,
    "unregisterListener": unregister,
    "listenToQueryProductRecommendationCreateEvent": listener_operation(CREATE_EVENT),
    "listenToQueryProductRecommendationStateChangeEvent": listener_operation(STATE_CHANGE_EVENT),
}
