"""The app factory: one ASGI app for HTTP, with the WebSocket gateway set up in
its lifespan and handed to `Connection` through uvicorn's app state."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match, Mount, Route
from starlette.types import Scope

from hubbub import __version__
from hubbub.blobs import open_blobs
from hubbub.bus import open_bus, open_counters, open_directory
from hubbub.config import Settings
from hubbub.core.hub import Hub
from hubbub.mailer import SmtpMailer
from hubbub.outbound import HttpOutbound, parse_allow
from hubbub.server import apidocs, rest
from hubbub.server.bodylimit import BodyLimit
from hubbub.server.fanout import Fanout
from hubbub.server.gateway import Gateway
from hubbub.server.openapi import API
from hubbub.server.rest_files import STREAMED

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


class WebMount(Mount):
    """The static web client at "/", except under /api, /hooks and /commands and on the
    app's own paths (/healthz, /docs...): there a path that exists with another method
    must still answer 405 (or OPTIONS), not the client's 404."""

    def __init__(self, *args: Any, owned: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owned = owned

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path.startswith(("/api", "/hooks/", "/commands/")) or path in self.owned:
            return Match.NONE, {}
        return super().matches(scope)


DESCRIPTION = """\
REST API. The real-time protocol on `/ws` is in docs/protocol.md.

Send the token from `/api/auth/register` or `/api/auth/login` as
`Authorization: Bearer <token>`. Every error is `{"error": {"code", "message"}}`
(with `field` or `retry_after` where they apply); each operation lists the
codes it can answer with. Every path answers `OPTIONS` with 204 and an `Allow`
header; a method it does not have gets 405 `method_not_allowed`, with `Allow`.
"""


def create_app(settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        from hubbub.store import open_store

        store = open_store(settings.store_url)
        outbound = HttpOutbound(parse_allow(settings.outbound_allow))
        bus = open_bus(settings.bus_url)
        hub = Hub(
            store,
            bus,
            settings.limits,
            allow_guests=settings.allow_guests,
            guest_rooms=settings.guest_rooms,
            registration=settings.registration,
            members_may_invite=settings.members_may_invite,
            directory=open_directory(settings.bus_url, settings.limits.presence_ttl),
            counters=open_counters(settings.bus_url),
            blobs=open_blobs(settings.blobs_url),
            outbound=outbound,
            public_url=settings.public_url,
            mailer=None
            if settings.smtp_url is None
            else SmtpMailer(settings.smtp_url, settings.smtp_from),
            digest_delay=settings.digest_delay,
        )
        await hub.start()
        hub.deliveries.start()
        fanout = Fanout(bus, hub)
        await bus.start(fanout.deliver, fanout.resync)
        gateway = Gateway(hub, fanout, settings.allowed_origins, settings.public_origins)
        gateway.start()
        try:
            yield {"hub": hub, "gateway": gateway}
        finally:
            await gateway.stop()
            await hub.deliveries.stop()
            await bus.close()
            await hub.stop()
            await outbound.close()

    app = API(
        title="hubbub",
        version=__version__,
        summary="A self-hostable, Slack-like real-time chat server.",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by `apidocs`, without a CDN
        redoc_url=None,
    )
    rest.install(app, settings.limits)
    apidocs.install(app)
    # Request bodies: refused past max_body_bytes while read (after the token check).
    # Uploads (STREAMED) have their own limits: max_file_bytes, the quota.
    app.add_middleware(BodyLimit, max_bytes=settings.limits.max_body_bytes, exempt=STREAMED)
    # The browser client: static files shipped in the package, no build step.
    # Mounted last, so every API route above wins.
    owned = frozenset(r.path for r in app.router.routes if isinstance(r, Route))
    web = StaticFiles(directory=WEB_DIR, html=True)
    app.router.routes.append(WebMount("/", web, name="web", owned=owned))
    return app
