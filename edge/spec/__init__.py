"""Loading TM Forum OpenAPI documents: one loader for every document the server mounts.

``loader`` reads and validates a document and normalises what the TM Forum family gets wrong;
each vendored document's own fixes are a JSON Patch (RFC 6902) beside it in ``openapi/<api>/``.
"""
