"""Thin HTTP handlers, one subpackage per API, one function per operationId: parse → call a service →
shape the response. Each subpackage's ``OPERATIONS`` maps its document's operationIds to them."""
