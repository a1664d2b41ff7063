"""partyRole resources in MongoDB (TMF669): the generic resource store, plus the canvas system role
and the look-up of roles by name that token roles are mapped through."""

from __future__ import annotations

from collections.abc import Iterable

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.ports import Document
from storage.codec import decode
from storage.filters import RESOURCE, field_path
from storage.mongo import translate_errors
from storage.resource_repository import DEFAULT_SORT, LIVE, MongoResourceRepository

COLLECTION = "partyRole"
SEED = "seed"  # the name of the system role a document was seeded as (beside the resource)
MAX_ROLES = 100  # token roles looked up at most (a token is the client's; its claims are bounded)


class MongoPartyRoleRepository(MongoResourceRepository):
    def __init__(self, db: Database, query_timeout_ms: int = 5000) -> None:  # type: ignore[type-arg]
        super().__init__(db, COLLECTION, query_timeout_ms)

    @translate_errors
    def ensure_indexes(self) -> None:
        self._col.create_indexes([
            *self.base_indexes(),
            IndexModel([(field_path(("name",)), ASCENDING), *DEFAULT_SORT], name="name_sorted"),
            # one seeded system role per name, however many workers start at once
            IndexModel([(SEED, ASCENDING)], name="seed_unique", unique=True,
                       partialFilterExpression={SEED: {"$exists": True}}),
        ])

    @translate_errors
    def seed(self, name: str, resource: Document, events: list[Document]) -> bool:
        """Insert ``resource`` as the system role ``name`` unless one was seeded and not deleted
        (a delete removes the marker, so the next start seeds it again). True when inserted.

        An upsert on the unique ``seed`` index: of several processes starting together one
        inserts, the others match it or lose the insert race with a duplicate-key error."""
        try:
            result = self._col.update_one({SEED: name},
                                          {"$setOnInsert": self.stored(resource, events)}, upsert=True)
        except DuplicateKeyError:
            return False
        return result.upserted_id is not None

    @translate_errors
    def named(self, names: Iterable[str]) -> list[Document]:
        """The live party roles whose ``name`` is one of ``names``."""
        wanted = [n for n in dict.fromkeys(names) if isinstance(n, str)][:MAX_ROLES]
        if not wanted:
            return []
        found = self._col.find({field_path(("name",)): {"$in": wanted}, **LIVE}, {RESOURCE: 1},
                               max_time_ms=self._timeout)
        return [decode(doc[RESOURCE]) for doc in found]

    def delete(self, resource_id: str, event: Document, owner: str | None = None,
               unset: tuple[str, ...] = ()) -> bool:
        """A deleted system role is seeded again at the next start."""
        return super().delete(resource_id, event, owner=owner, unset=(*unset, SEED))
