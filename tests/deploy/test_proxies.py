"""docs/deploy.md's reverse-proxy examples, run for real (issue #20).

The nginx and HAProxy blocks are read from docs/deploy.md (between its
`<!-- example: NAME -->` and `<!-- /example -->` comments) and run as they are,
with only the addresses, ports and certificate paths replaced, by Debian's
nginx and haproxy (`scripts/ensure-proxies` installs them), in the foreground,
on an ephemeral port of 127.0.0.1 with TLS, their config, pid, logs and temp
files in a temp dir. Behind them: the docs' three nodes (PostgreSQL + a private
Redis), or one node behind all three `server` lines where PostgreSQL is
missing outside CI.

The public origin is the docs' `https://chat.example.com`, on the proxy's port
(so not 443: what broke in the issue): the clients connect to 127.0.0.1 and
send that name (Chromium maps it with --host-resolver-rules).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import websockets
from playwright.async_api import Browser, async_playwright, expect
from websockets.exceptions import InvalidStatus

from services import POSTGRES_URL, PrivateRedis, drop_database, free_port, fresh_postgres_database
from support import WAIT, WS, Server, start_server
from web.helpers import CHROMIUM, CHROMIUM_ARGS, PASSWORD, TIMEOUT_MS, message, send

pytestmark = pytest.mark.asyncio(loop_scope="module")

DEPLOY_MD = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
HOST = "chat.example.com"  # the docs' public name
DOC_NODES = ("10.0.0.11:8000", "10.0.0.12:8000", "10.0.0.13:8000")
LIMITS = ("--limit", "messages_per_second=1000,message_burst=1000,registrations_per_hour=1000")
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(what: str, found: bool) -> None:
    """Skip without it; under CI, fail (tests/services.py's rule)."""
    if found:
        return
    reason = f"{what} (run scripts/ensure-proxies)"
    if CI:
        pytest.fail(reason + " - required under CI")
    pytest.skip(reason)


def binary(name: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    require(f"{name} is not installed", path is not None)
    assert path is not None
    return path


def doc_example(name: str) -> str:
    """The code block of docs/deploy.md marked as example `name`."""
    text = DEPLOY_MD.read_text(encoding="utf-8")
    found = re.search(
        rf"<!-- example: {re.escape(name)}\b[^>]*-->\n```[\w-]*\n(.*?)```\n<!-- /example -->",
        text,
        re.S,
    )
    assert found, f"docs/deploy.md has no '<!-- example: {name} -->' block"
    return found.group(1)


def replace_all(block: str, changes: dict[str, str]) -> str:
    for old, new in changes.items():
        assert old in block, f"the docs' example no longer has {old!r}"
        block = block.replace(old, new)
    return block


# --- the deployment: certificate, nodes, proxies ------------------------------------------


@dataclasses.dataclass
class Cert:
    cert: Path  # PEM certificate for chat.example.com (and 127.0.0.1)
    key: Path
    bundle: Path  # both, as HAProxy's `crt` wants them

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def make_cert(where: Path) -> Cert:
    openssl = shutil.which("openssl")
    require("openssl is not installed", openssl is not None)
    assert openssl is not None
    cert, key = where / "chat.pem", where / "chat.key"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
            *("-nodes", "-days", "2", "-subj", f"/CN={HOST}"),
            *("-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    bundle = where / "chat.bundle.pem"
    bundle.write_bytes(cert.read_bytes() + key.read_bytes())
    return Cert(cert, key, bundle)


@dataclasses.dataclass
class Deployment:
    nodes: list[Server]
    cert: Cert
    ports: dict[str, int]  # the proxies' public ports, by proxy ("nginx", "haproxy")
    workdir: Path

    def origin(self, port: int) -> str:
        return f"https://{HOST}:{port}"

    @property
    def upstreams(self) -> list[str]:
        """The docs' three `server` lines, pointed at the nodes (one node: all three)."""
        return [f"127.0.0.1:{self.nodes[i % len(self.nodes)].port}" for i in range(3)]


def _postgres_up() -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(POSTGRES_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    binary("nginx")
    binary("haproxy")
    work = tmp_path_factory.mktemp("deploy")
    cert = make_cert(work)
    ports = {"nginx": free_port(), "haproxy": free_port()}
    # What the docs say to do: every node knows the public origin, port included.
    public = [a for port in ports.values() for a in ("--public-url", f"https://{HOST}:{port}")]
    redis: PrivateRedis | None = None
    database: str | None = None
    if _postgres_up() and shutil.which("redis-server"):
        redis = PrivateRedis()
        redis.start()
        database = asyncio.run(fresh_postgres_database())
        common = ("--database-url", database, "--bus-url", redis.url, *LIMITS, *public)
        nodes = [start_server(work / f"node{n}", *common) for n in range(3)]
    else:
        if CI:
            pytest.fail("PostgreSQL or redis-server missing - required under CI")
        nodes = [start_server(work / "node", *LIMITS, *public)]  # one node, all three lines
    try:
        yield Deployment(nodes, cert, ports, work)
    finally:
        for node in nodes:
            node.stop()
        if database is not None:
            asyncio.run(drop_database(database))
        if redis is not None:
            redis.kill()


class Proxy:
    """nginx or haproxy running one of the docs' examples, in the foreground."""

    def __init__(self, kind: str, port: int, workdir: Path, deployment: Deployment) -> None:
        self.kind, self.port, self.dir = kind, port, workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "error.log"
        nodes = dict(zip(DOC_NODES, deployment.upstreams, strict=True))
        cert = deployment.cert
        if kind == "nginx":
            block = replace_all(
                doc_example("nginx"),
                {
                    "listen 443 ": f"listen 127.0.0.1:{port} ",
                    "/etc/ssl/certs/chat.example.com.pem": str(cert.cert),
                    "/etc/ssl/private/chat.example.com.key": str(cert.key),
                    **nodes,
                },
            )
            self.argv = self._nginx(block)
        else:
            block = replace_all(
                doc_example("haproxy"),
                {
                    "bind :443 ": f"bind 127.0.0.1:{port} ",
                    "/etc/haproxy/certs/chat.example.com.pem": str(cert.bundle),
                    **nodes,
                },
            )
            self.argv = self._haproxy(block)
        self.proc: subprocess.Popen[bytes] | None = None

    def _nginx(self, block: str) -> list[str]:
        """The docs' block is a conf.d file: included in an http block of our own."""
        (self.dir / "hubbub.conf").write_text(block)
        temp = ""
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.dir / kind).mkdir(exist_ok=True)
            temp += f"    {kind}_temp_path {self.dir / kind};\n"
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers use our temp dirs
        (self.dir / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {self.dir}/nginx.pid;\n"
            f"error_log {self.log} info;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n    access_log {self.dir}/access.log;\n{temp}"
            f"    include {self.dir}/hubbub.conf;\n}}\n"
        )
        exe = binary("nginx")
        conf = str(self.dir / "nginx.conf")
        return [exe, "-e", str(self.log), "-p", str(self.dir), "-c", conf]

    def _haproxy(self, block: str) -> list[str]:
        """The docs' block goes after a `global` section (the distro's, in real life)."""
        cfg = self.dir / "haproxy.cfg"
        cfg.write_text(f"global\n    pidfile {self.dir}/haproxy.pid\n    maxconn 256\n\n{block}")
        return [binary("haproxy"), "-db", "-f", str(cfg)]

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            time.sleep(0.05)  # polling for the port, bounded by the deadline
        self.stop()
        raise RuntimeError(f"{self.kind} did not start:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # both: fast shutdown
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)


@contextlib.contextmanager
def running(kind: str, deployment: Deployment, port: int | None = None) -> Iterator[Proxy]:
    port = port or deployment.ports[kind]
    proxy = Proxy(kind, port, deployment.workdir / f"{kind}-{port}", deployment)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


# --- clients through the proxy ------------------------------------------------------------


def rest(deployment: Deployment, port: int) -> httpx.AsyncClient:
    """REST through the proxy, as a browser at https://chat.example.com:PORT."""
    return httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{port}",
        headers={"Host": f"{HOST}:{port}"},
        verify=deployment.cert.context(),
        timeout=WAIT,
        trust_env=False,
    )


@contextlib.asynccontextmanager
async def ws_through(deployment: Deployment, port: int, origin: str | None) -> AsyncIterator[WS]:
    async with websockets.connect(
        f"wss://{HOST}:{port}/ws",
        host="127.0.0.1",  # only where the TCP connection goes: Host and SNI are HOST
        port=port,
        ssl=deployment.cert.context(),
        origin=origin,  # type: ignore[arg-type]
        proxy=None,
        open_timeout=WAIT,
    ) as conn:
        yield WS(conn)


async def register(http: httpx.AsyncClient, name: str) -> str:
    r = await http.post("/api/auth/register", json={"username": name, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


async def signed_in(ws: WS, token: str) -> dict[str, Any]:
    """The web app's way in: an `auth` frame first, then `hello`."""
    await ws.send({"action": "auth", "token": token})
    return await ws.expect("hello")


async def wait_healthy(http: httpx.AsyncClient) -> None:
    """Until the proxy passes requests on (HAProxy's first health checks)."""
    deadline = time.monotonic() + WAIT
    while True:
        with contextlib.suppress(httpx.HTTPError):
            r = await http.get("/healthz")
            if r.status_code == 200:
                return
        assert time.monotonic() < deadline, "the proxy never answered /healthz with 200"
        await asyncio.sleep(0.1)


_names = iter(range(1_000_000))


def uname(base: str) -> str:
    return f"{base}-{next(_names)}-{os.getpid()}"


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
async def test_docs_example_serves_rest_and_websocket(kind: str, deployment: Deployment) -> None:
    port = deployment.ports[kind]
    origin = deployment.origin(port)
    with running(kind, deployment):
        async with rest(deployment, port) as http:
            await wait_healthy(http)
            alice, bob = uname("alice"), uname("bob")
            ta, tb = await register(http, alice), await register(http, bob)
            room = uname("room")
            r = await http.post(
                "/api/channels", json={"name": room}, headers={"Authorization": f"Bearer {ta}"}
            )
            assert r.status_code == 201, r.text
            r = await http.post(
                f"/api/channels/{room}/join", headers={"Authorization": f"Bearer {tb}"}
            )
            assert r.status_code < 300, r.text
            # What HAProxy's health check looks for (a node whose database answers).
            assert '"store":"ok"' in (await http.get("/healthz")).text
            # The web app itself comes through the proxy too.
            page = await http.get("/")
            assert page.status_code == 200 and "js/main.js" in page.text

            # Two browsers' sockets, with the page's Origin: signed in with an
            # `auth` frame, and a message from one reaches the other (on a
            # cluster the proxy may well have put them on different nodes).
            async with (
                ws_through(deployment, port, origin) as wa,
                ws_through(deployment, port, origin) as wb,
            ):
                assert (await signed_in(wa, ta))["user"]["username"] == alice
                assert (await signed_in(wb, tb))["user"]["username"] == bob
                for ws in (wa, wb):
                    reply = await ws.request({"action": "subscribe", "channel": room})
                    assert reply["type"] == "subscribed", reply
                ack = await wb.request(
                    {
                        "action": "send",
                        "channel": room,
                        "text": "through " + kind,
                        "client_id": "c1",
                    }
                )
                assert ack["type"] == "ack", ack
                got = await wa.expect("message", channel=room)
                assert got["text"] == "through " + kind and got["seq"] == ack["seq"]
                # A ping and its pong cross the proxy (the heartbeat).
                assert (await wa.request({"action": "ping"}))["type"] == "pong"

            # REST sees what went over the WebSocket, through the proxy.
            r = await http.get(
                f"/api/channels/{room}/messages", headers={"Authorization": f"Bearer {ta}"}
            )
            assert [m["text"] for m in r.json()["messages"]] == ["through " + kind]


@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
async def test_proxy_on_a_port_the_public_url_does_not_name_is_refused(
    kind: str, deployment: Deployment
) -> None:
    """The issue's case: the nodes' --public-url does not name the port the
    proxy is on, so the page's Origin is not theirs. REST works, /ws says 403
    (which is what the web app reports as "Origin not allowed")."""
    port = free_port()  # not in the nodes' --public-url
    with running(kind, deployment, port=port):
        async with rest(deployment, port) as http:
            await wait_healthy(http)
            token = await register(http, uname("carol"))
            r = await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
        with pytest.raises(InvalidStatus) as refused:
            async with ws_through(deployment, port, deployment.origin(port)):
                pass
        assert refused.value.response.status_code == 403
        assert b"Origin not allowed" in refused.value.response.body
        # A client that is not a browser (no Origin) is not checked.
        async with ws_through(deployment, port, None) as ws:
            await signed_in(ws, token)


# --- the web app in Chromium, through the proxy --------------------------------------------


def require_chromium() -> None:
    require(f"{CHROMIUM} is not installed (scripts/ensure-chromium)", Path(CHROMIUM).exists())


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1"],
        )
        yield b
        await b.close()


@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
async def test_web_app_through_the_proxy(
    kind: str, deployment: Deployment, browser: Browser
) -> None:
    port = deployment.ports[kind]
    origin = deployment.origin(port)
    with running(kind, deployment):
        async with rest(deployment, port) as http:
            await wait_healthy(http)
            dana, erin = uname("dana"), uname("erin")
            td, te = await register(http, dana), await register(http, erin)
            room = uname("lobby")
            r = await http.post(
                "/api/channels", json={"name": room}, headers={"Authorization": f"Bearer {td}"}
            )
            assert r.status_code == 201, r.text
            r = await http.post(
                f"/api/channels/{room}/join", headers={"Authorization": f"Bearer {te}"}
            )
            assert r.status_code < 300, r.text

            ctx = await browser.new_context(ignore_https_errors=True)  # our own CA
            ctx.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            sockets: list[str] = []
            try:
                page = await ctx.new_page()
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("websocket", lambda ws: sockets.append(ws.url))
                await page.goto(f"{origin}/#/c/{room}")
                # Sign in with the form, as a person would.
                await page.get_by_test_id("auth-username").fill(dana)
                await page.get_by_test_id("auth-password").fill(PASSWORD)
                await page.get_by_test_id("auth-submit").click()
                app = page.get_by_test_id("app")
                await expect(app).to_have_attribute("data-connection", "open")
                await expect(app).to_have_attribute("data-ready", "true")
                await expect(page.get_by_test_id("channel-title")).to_contain_text(room)
                assert sockets and all(u == f"wss://{HOST}:{port}/ws" for u in sockets), sockets

                # She writes; Erin, on a socket of her own through the proxy, reads it.
                async with ws_through(deployment, port, origin) as we:
                    await signed_in(we, te)
                    await we.request({"action": "subscribe", "channel": room})
                    await send(page, "hello from the browser")
                    sent = message(page, "hello from the browser")
                    await expect(sent).to_have_attribute("data-state", "sent")
                    got = await we.expect("message", channel=room)
                    assert got["text"] == "hello from the browser"
                    # Erin answers; the page shows it, pushed live.
                    await we.request(
                        {"action": "send", "channel": room, "text": "hi Dana", "client_id": "e1"}
                    )
                await expect(message(page, "hi Dana")).to_have_count(1)
                await expect(page.get_by_test_id("connection-banner")).to_be_hidden()
            finally:
                await ctx.close()
            assert not errors, errors
