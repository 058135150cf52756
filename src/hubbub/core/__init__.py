"""The chat service: rules and orchestration, with no sockets or files of its own.

Transports (the WebSocket gateway, the REST app, the Lambda handlers) decode
input, call `Hub`, and write what it returns. Storage and fan-out are reached
only through the `Store` and `Bus` protocols.
"""
