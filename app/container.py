"""The objects one process serves with: settings, the Mongo client, repositories and services."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from pymongo import MongoClient
from pymongo.database import Database

from app.settings import Settings
from outbound.event_sender import EventSender
from runtime.memory import release_freed_memory
from services.callback_policy import CallbackPolicy
from services.events import event_factory
from services.hub import HubService
from services.inbound_events import InboundEvents
from services.listener import ListenerService
from services.notifications import Dispatcher, Relay
from services.party_roles import PartyRoleService
from services.queries import QueryService
from services.recommendations import EngineProvider, RecommendationProcessor
from services.retraining import Retrainer, RetrainPolicy
from services.tasks import TaskRunner
from services.workers import BackgroundWorkers
from storage.catalog_repository import MongoCatalogRepository
from storage.history_repository import MongoHistoryRepository
from storage.hub_repository import MongoHubRepository
from storage.lease_repository import MongoLeaseRepository
from storage.listener_repository import MongoListenerEventRepository
from storage.model_cache import ModelFileCache
from storage.model_repository import MongoModelRepository
from storage.mongo import make_client
from storage.notification_repository import MongoNotificationRepository
from storage.party_role_repository import MongoPartyRoleRepository
from storage.query_repository import MongoQueryRepository
from storage.subscription_repository import MongoSubscriptionRepository


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
    hubs: dict[str, HubService]  # by API: "recommendation" (TMF680), "partyRole" (TMF669)
    party_roles: PartyRoleService
    listener: ListenerService
    inbound_events: InboundEvents
    query_store: MongoQueryRepository
    party_role_store: MongoPartyRoleRepository
    hub_store: MongoHubRepository
    listener_store: MongoListenerEventRepository
    notifications: MongoNotificationRepository
    tasks: TaskRunner
    relay: Relay
    dispatcher: Dispatcher
    sender: EventSender
    subscriptions: MongoSubscriptionRepository
    retrainer: Retrainer
    role: str = "server"  # or "worker" (tmf680 worker): decides whether the retrainer runs here
    workers: BackgroundWorkers = field(init=False)

    def __post_init__(self) -> None:
        steps = [("tasks", self.tasks.run_once), ("relay", self.relay.run_once),
                 ("deliveries", self.dispatcher.run_once)]
        if self.retrains:
            steps.append(("retrain", self.retrainer.run_once))
        self.workers = BackgroundWorkers(steps, idle_s=self.settings.poll_ms / 1000)

    @property
    def retrains(self) -> bool:
        """Training is CPU heavy: by default only ``tmf680 worker`` processes retrain
        (``TMF680_RETRAIN_IN_SERVER`` adds the servers' workers)."""
        return self.retrainer.policy.enabled and (self.role == "worker" or self.settings.retrain_in_server)

    def close(self) -> None:
        """Stop the background workers (if started), let in-flight deliveries finish (each bounded by
        the delivery timeout), then release the network resources."""
        if self.workers.started:
            self.workers.stop()
        self.dispatcher.close(wait=True)
        self.sender.close()
        self.client.close()


def build_container(settings: Settings, role: str = "server") -> Container:
    """Wire storage, engine and services. Call it in the serving process (after any fork).
    ``role``: ``server`` (an API process, or a command) or ``worker`` (``tmf680 worker``)."""
    if not settings.mongodb_uri:
        raise ValueError("MONGODB_URI is not set (tmf680 serve starts an embedded mongod when it is empty)")
    client = make_client(settings.mongodb_uri, settings.mongo_timeout_ms, write_concern=settings.write_concern)
    db = client[settings.db_name]
    query_repo = MongoQueryRepository(db, settings.query_timeout_ms)
    party_role_repo = MongoPartyRoleRepository(db, settings.query_timeout_ms)
    hub_repo = MongoHubRepository(db)
    listener_repo = MongoListenerEventRepository(db)
    catalog = MongoCatalogRepository(db)
    history = MongoHistoryRepository(db)
    models = MongoModelRepository(db)
    notifications = MongoNotificationRepository(db)
    subscriptions = MongoSubscriptionRepository(db)
    leases = MongoLeaseRepository(db)
    for repo in (query_repo, party_role_repo, hub_repo, listener_repo, catalog, history, models, notifications,
                 subscriptions):
        repo.ensure_indexes()
    shared_models = ModelFileCache(models, settings.model_cache_path)  # one mapped copy per machine
    engines = EngineProvider(catalog, shared_models, refresh_s=settings.model_refresh_s,
                             after_rebuild=release_freed_memory)
    recommendations = RecommendationProcessor(engines, history, default_limit=settings.recommendation_limit)
    events = event_factory()
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    policy = CallbackPolicy.from_setting(settings.callback_allow)
    sender = EventSender(policy, timeout_s=settings.delivery_timeout_s)
    return Container(
        settings=settings,
        client=client,
        db=db,
        catalog=catalog,
        history=history,
        models=models,
        engines=engines,
        recommendations=recommendations,
        queries=QueryService(query_repo, recommendations, events=events),
        hubs={"recommendation": HubService(hub_repo, policy=policy, deliveries=notifications),
              "partyRole": HubService(hub_repo, policy=policy, deliveries=notifications, api="partyRole")},
        party_roles=PartyRoleService(party_role_repo),
        listener=ListenerService(listener_repo),
        inbound_events=InboundEvents(catalog, history),
        query_store=query_repo,
        party_role_store=party_role_repo,
        hub_store=hub_repo,
        listener_store=listener_repo,
        notifications=notifications,
        tasks=TaskRunner(query_repo, recommendations, events, owner, lease_s=settings.task_lease_s,
                         delay_s=settings.task_delay_ms / 1000),
        relay=Relay([(query_repo, None), (party_role_repo, "partyRole")], hub_repo, notifications,
                    per_party=settings.restrict_to_party),
        dispatcher=Dispatcher(notifications, hub_repo, sender, owner, retry_for_s=settings.delivery_retry_s,
                              lease_s=settings.delivery_timeout_s * 3 + 5),
        sender=sender,
        subscriptions=subscriptions,
        retrainer=Retrainer(history, models, leases, owner,
                            RetrainPolicy(after=settings.retrain_after, every_s=settings.retrain_every_s,
                                          lease_s=settings.train_lease_s)),
        role=role,
    )
