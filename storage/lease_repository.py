"""Named leases: one holder at a time across processes (e.g. the one model trainer).

One document per name in ``lease``, holding ``{owner, until}`` as tasks and deliveries do
(``storage.mongo.new_lease``/``lease_free``): taking it succeeds when it is free, expired or already
ours; a holder renews it while it works and releases it at the end; a holder that dies stops
renewing and the lease runs out, so another process takes over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from storage.mongo import lease_free, new_lease, translate_errors

COLLECTION = "lease"


class MongoLeaseRepository:
    def __init__(self, db: Database) -> None:  # type: ignore[type-arg]
        self._col = db[COLLECTION]

    def ensure_indexes(self) -> None:
        """Nothing beyond ``_id`` (one document per lease name)."""

    @translate_errors
    def acquire(self, name: str, owner: str, now: datetime, lease_s: float) -> bool:
        """Take the lease (True) unless another owner holds an unexpired one (False)."""
        free_or_ours: dict[str, Any] = {"$or": [*lease_free(now)["$or"], {"lease.owner": owner}]}
        try:
            self._col.update_one({"_id": name, **free_or_ours},
                                 {"$set": {"lease": new_lease(owner, now, lease_s), "since": now}}, upsert=True)
        except DuplicateKeyError:  # the document exists and someone else's lease is running
            return False
        return True

    @translate_errors
    def renew(self, name: str, owner: str, now: datetime, lease_s: float) -> bool:
        """Extend our lease (False: it ran out and another owner took it)."""
        result = self._col.update_one({"_id": name, "lease.owner": owner},
                                      {"$set": {"lease": new_lease(owner, now, lease_s)}})
        return result.matched_count == 1

    @translate_errors
    def release(self, name: str, owner: str) -> None:
        self._col.update_one({"_id": name, "lease.owner": owner}, {"$set": {"lease": None}})

    @translate_errors
    def holder(self, name: str, now: datetime) -> str | None:
        """The owner of the unexpired lease ``name``, if any."""
        doc = self._col.find_one({"_id": name, "lease.until": {"$gte": now}}, {"lease": 1})
        return str(doc["lease"]["owner"]) if doc else None
