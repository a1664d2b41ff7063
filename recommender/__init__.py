"""Recommendation engine of the TMF680 server: pure Python + numpy/scipy, no I/O.

The web and storage layers translate a ``queryProductRecommendation`` and the
stored TMF620/TMF637 documents into these plain objects, call the engine and
shape the answer::

    catalog = Catalog.from_documents(offering_dicts, category_dicts)
    model = train(((customer_id, offering_id) for ...), kind="ease", params={"l2": 50.0})
    meta, blobs = model.to_payload()                 # JSON + np.save bytes, no pickle
    model = TrainedModel.from_payload(meta, blobs)
    engine = Engine(catalog, model)                  # model may be None
    ctx = RecommendationContext(customer_id="c1", held=frozenset({"po-1"}), cart=frozenset(),
                                channel_ids=("web",), now=datetime.now(UTC), limit=5,
                                recommendation_type="cross-sell")
    bad = catalog.unknown_categories(ctx.category_ids)  # -> 400 naming them
    for rec in engine.recommend(ctx):                # Recommendation(offering_id, name, href,
        ...                                          #                score, priority=1..n)

Modules: :mod:`~recommender.catalog` (precomputed masks), :mod:`~recommender.eligibility`
(relationship rules), :mod:`~recommender.context` (request + ``recommendationType``),
:mod:`~recommender.models` (EASE, popularity, co-occurrence), :mod:`~recommender.training`,
:mod:`~recommender.serialization`, :mod:`~recommender.engine`, :mod:`~recommender.evaluation`
(offline leave-one-out) and :mod:`~recommender.demo` (IBM Telco demo data set).
"""

from recommender.catalog import Catalog
from recommender.context import RecommendationContext, RecommendationType
from recommender.documents import Category, ProductOffering
from recommender.eligibility import EligibilityRules
from recommender.engine import Engine, Recommendation
from recommender.serialization import TrainedModel
from recommender.training import train

__all__ = [
    "Catalog",
    "Category",
    "EligibilityRules",
    "Engine",
    "ProductOffering",
    "Recommendation",
    "RecommendationContext",
    "RecommendationType",
    "TrainedModel",
    "train",
]
