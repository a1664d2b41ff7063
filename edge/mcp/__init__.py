"""The MCP (Model Context Protocol) endpoint for AI agents: an inbound adapter beside the HTTP handlers.

``endpoint`` mounts it in the application (``install_mcp``, called by the composition root),
``server`` is the SDK's server with error mapping and scope checks, ``tools`` the tools over the
services, ``schemas`` their input schemas derived from the TMF680 document. It uses the services
and the edge (errors, auth, spec loader), never storage.
"""
