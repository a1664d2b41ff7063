"""Web application: composition root, settings, spec loading, error mapping, CLI."""
