"""The network side: one port for HTTP (REST) and WebSocket (`/ws`)."""
