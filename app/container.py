"""The objects one process serves with: settings, the Mongo client, repositories and services."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import MongoClient
from pymongo.database import Database

from app.settings import Settings
from services.hub import HubService
from services.listener import ListenerService
from services.ports import TaskProcessor
from services.queries import QueryService
from storage.hub_repository import MongoHubRepository
from storage.listener_repository import MongoListenerEventRepository
from storage.mongo import make_client
from storage.query_repository import MongoQueryRepository


@dataclass
class Container:
    settings: Settings
    client: MongoClient  # type: ignore[type-arg]
    db: Database  # type: ignore[type-arg]
    queries: QueryService
    hub: HubService
    listener: ListenerService

    def close(self) -> None:
        self.client.close()


def build_container(settings: Settings, processor: TaskProcessor | None = None) -> Container:
    """Wire storage and services. Call it in the serving process (after any fork)."""
    if not settings.mongodb_uri:
        raise ValueError("MONGODB_URI is not set (tmf680 serve starts an embedded mongod when it is empty)")
    client = make_client(settings.mongodb_uri, settings.mongo_timeout_ms)
    db = client[settings.db_name]
    query_repo = MongoQueryRepository(db, settings.query_timeout_ms)
    hub_repo = MongoHubRepository(db)
    listener_repo = MongoListenerEventRepository(db)
    for repo in (query_repo, hub_repo, listener_repo):
        repo.ensure_indexes()
    return Container(
        settings=settings,
        client=client,
        db=db,
        queries=QueryService(query_repo, processor),
        hub=HubService(hub_repo),
        listener=ListenerService(listener_repo),
    )
