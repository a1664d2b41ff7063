"""Domain exceptions. The web edge (``edge.errors``) maps each to an HTTP status and a TMF Error."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the services raise on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The resource does not exist."""


class InvalidRequest(DomainError):
    """The request is well-formed for the spec but not acceptable (bad filter, bad callback, ...)."""


class UnknownReference(InvalidRequest):
    """The request names catalogue entities (category, channel, offering) the server does not know."""


class Conflict(DomainError):
    """The request conflicts with the resource's current state."""


class StoreUnavailable(DomainError):
    """The database did not answer in time; the request may be retried."""
