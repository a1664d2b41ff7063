"""TMF680 Recommendation Management: one handler per operationId of ``openapi/tmf680``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers.recommendation import hub, listener, query_product_recommendation

OPERATIONS: dict[str, Callable[..., Any]] = {
    "createQueryProductRecommendation": query_product_recommendation.create,
    "listQueryProductRecommendation": query_product_recommendation.list_,
    "retrieveQueryProductRecommendation": query_product_recommendation.retrieve,
    "registerListener": hub.register,
    "unregisterListener": hub.unregister,
    "listenToQueryProductRecommendationCreateEvent": listener.create_event,
    "listenToQueryProductRecommendationStateChangeEvent": listener.state_change_event,
}
