"""`OPTIONS`, and 405 for a method a path lacks, with an `Allow` header that
lists every method the path has, whichever of its routes has it.

Starlette answers a request whose path matches but whose method does not with
a 405 from the first route of that path alone (`/api/channels`: `Allow: GET`,
though POST is there too), and has no `OPTIONS`. `answer` is called for that
405 (`rest._http_error`): it asks every route which methods match the path,
then answers `OPTIONS` with 204 and `Allow`, any other method with 405
`method_not_allowed`, `Allow` and the standard error body. A CORS middleware,
if one is added, answers preflight requests before routing, so this does not
stand in its way.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Mount

from hubbub.protocol.errors import ChatError, ErrorCode

# Every method a route may have, in the order `Allow` lists them.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed(request: Request) -> list[str]:
    """The methods some route takes on this request's path ([] if none does).
    Mounts (the web client, static files) answer for themselves."""
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    found = [
        method
        for method in METHODS
        if any(r.matches({**request.scope, "method": method})[0] == Match.FULL for r in routes)
    ]
    return [*found, "OPTIONS"] if found else []


def answer(request: Request, fallback: Response) -> Response:
    """The answer to a method the matched path does not have: `fallback` if no
    route has the path (a mount's own 405)."""
    methods = allowed(request)
    if not methods:
        return fallback
    allow = ", ".join(methods)
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": allow})
    message = f"{request.method} is not allowed here; Allow: {allow}"
    err = ChatError(ErrorCode.method_not_allowed, message)
    return JSONResponse({"error": err.body()}, status_code=405, headers={"Allow": allow})
