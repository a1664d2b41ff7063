"""The official TM Forum documents, unchanged, one folder per API with its licence.

A folder may hold ``fixes.json``: a JSON Patch (RFC 6902) of that document's own mistakes, applied by
``edge.spec.loader`` after the fixes common to the whole family. Its ``test`` operations pin what is
being fixed, so a replaced document whose quirk is gone fails loudly instead of being patched blindly.
"""
