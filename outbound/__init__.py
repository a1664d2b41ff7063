"""Outbound HTTP adapters, the counterpart of ``storage/`` for calls to other servers: the hub's event
sender (``event_sender``) and the TMF620 catalogue client (``tmf620_client``)."""
