"""Interfaces the services depend on; ``storage`` implements them on MongoDB."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from services.history import HistoryRecord
from services.list_query import ListQuery

Document = dict[str, Any]


@dataclass(frozen=True)
class Page:
    items: list[Document]
    total: int


@dataclass(frozen=True)
class Stamped:
    """A stored resource as an event sees it: its document, the ordering stamp of the write that
    made it (None: imported, or written before stamps), and whether it was retired/removed."""

    document: Document
    stamp: str | None
    deleted: bool = False


@dataclass(frozen=True)
class CatalogWrite:
    """An offering or category to store (or retire: ``deleted``) with its ``stamp``, if what is
    stored is still ``expected`` (None: nothing is stored)."""

    resource_id: str
    document: Document
    deleted: bool
    stamp: str
    expected: Stamped | None


@dataclass(frozen=True)
class HistoryWrite:
    """A product or order to store (``record`` None: removed, a tombstone) with its ``stamp``, if
    what is stored is still ``expected`` (None: nothing is stored)."""

    resource_id: str
    record: HistoryRecord | None
    document: Document
    stamp: str
    expected: Stamped | None


@dataclass(frozen=True)
class CatalogChanges:
    """Catalogue documents written since a version: id → document, None for a retired one."""

    offerings: dict[str, Document | None]
    categories: dict[str, Document | None]

    def __bool__(self) -> bool:
        return bool(self.offerings or self.categories)


class QueryRepository(Protocol):
    """``owner``: a party id kept beside the resource (never in it); given, only that party's
    resources are found."""

    def add(self, resource: Document, events: list[Document], owner: str | None = None) -> None: ...

    def get(self, resource_id: str, fields: tuple[str, ...] | None = None,
            owner: str | None = None) -> Document | None: ...

    def list(self, query: ListQuery, owner: str | None = None) -> Page: ...


class PartyRoleRepository(QueryRepository, Protocol):
    """A resource store with read-modify-write by revision, deletes, the system role and names."""

    def get_revision(self, resource_id: str, owner: str | None = None) -> tuple[Document, int] | None: ...

    def replace(self, resource: Document, revision: int, events: list[Document]) -> bool: ...

    def delete(self, resource_id: str, event: Document, owner: str | None = None) -> bool: ...

    def seed(self, name: str, resource: Document, events: list[Document]) -> bool: ...

    def named(self, names: Iterable[str]) -> list[Document]: ...


class HubRepository(Protocol):
    def add(self, subscription: Document, owner: str | None = None, api: str | None = None) -> None: ...

    def delete(self, subscription_id: str, owner: str | None = None, api: str | None = None) -> bool: ...

    def get(self, subscription_id: str) -> Document | None: ...

    def all(self) -> list[Document]: ...


class ListenerEventRepository(Protocol):
    def add(self, record: Document) -> None: ...

    def recent(self, limit: int, event_type: str | None = None) -> list[Document]: ...


class TaskProcessor(Protocol):
    """The seam for the recommendation engine and task lifecycle.

    ``on_create`` receives the resource as it will be stored (state ``accepted``) and returns the
    resource to store and answer with: a synchronous engine fills ``recommendationItem`` and sets
    ``state: done``; an asynchronous lifecycle leaves it ``accepted`` for a worker.
    """

    def on_create(self, resource: Document) -> Document: ...
