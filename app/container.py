"""The objects one process serves with: settings, the Mongo client, repositories and services."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import MongoClient
from pymongo.database import Database

from app.settings import Settings
from services.hub import HubService
from services.listener import ListenerService
from services.queries import QueryService
from services.recommendations import EngineProvider, RecommendationProcessor
from storage.catalog_repository import MongoCatalogRepository
from storage.history_repository import MongoHistoryRepository
from storage.hub_repository import MongoHubRepository
from storage.listener_repository import MongoListenerEventRepository
from storage.model_repository import MongoModelRepository
from storage.mongo import make_client
from storage.query_repository import MongoQueryRepository


@dataclass
class Container:
    settings: Settings
    client: MongoClient  # type: ignore[type-arg]
    db: Database  # type: ignore[type-arg]
    catalog: MongoCatalogRepository
    history: MongoHistoryRepository
    models: MongoModelRepository
    engines: EngineProvider
    recommendations: RecommendationProcessor
    queries: QueryService
    hub: HubService
    listener: ListenerService

    def close(self) -> None:
        self.client.close()


def build_container(settings: Settings) -> Container:
    """Wire storage, engine and services. Call it in the serving process (after any fork)."""
    if not settings.mongodb_uri:
        raise ValueError("MONGODB_URI is not set (tmf680 serve starts an embedded mongod when it is empty)")
    client = make_client(settings.mongodb_uri, settings.mongo_timeout_ms)
    db = client[settings.db_name]
    query_repo = MongoQueryRepository(db, settings.query_timeout_ms)
    hub_repo = MongoHubRepository(db)
    listener_repo = MongoListenerEventRepository(db)
    catalog = MongoCatalogRepository(db)
    history = MongoHistoryRepository(db)
    models = MongoModelRepository(db)
    for repo in (query_repo, hub_repo, listener_repo, catalog, history, models):
        repo.ensure_indexes()
    engines = EngineProvider(catalog, models, refresh_s=settings.model_refresh_s)
    recommendations = RecommendationProcessor(engines, history, default_limit=settings.recommendation_limit)
    return Container(
        settings=settings,
        client=client,
        db=db,
        catalog=catalog,
        history=history,
        models=models,
        engines=engines,
        recommendations=recommendations,
        queries=QueryService(query_repo, recommendations),
        hub=HubService(hub_repo),
        listener=ListenerService(listener_repo),
    )
