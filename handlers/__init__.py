"""Thin HTTP handlers, one function per operationId: parse → call a service → shape the response."""
