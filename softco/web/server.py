"""Starting `softco serve`: bind, print the address (and the token when it is needed), serve with uvicorn."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from softco.errors import UsageError

if TYPE_CHECKING:
    import uvicorn

    from softco.web.app import Config

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8750


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port), or a one-line UsageError."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: give a port from 1 to 65535 (0 picks a free one)")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(
            f"--host {host}: cannot resolve it ({exc.strerror}); give an address such as 127.0.0.1"
        ) from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host} port {port} ({exc.strerror}); pick another with --port") from None
    sock.set_inheritable(False)
    return sock


@dataclass
class Serving:
    """A server started by :func:`start`: its address, and the thread serving it (None: not started yet)."""

    url: str
    token: str
    local: bool
    sock: socket.socket
    server: uvicorn.Server
    config: Config
    thread: threading.Thread | None = None

    @property
    def page_url(self) -> str:
        """The address to open: with the token when this server needs it for every request."""
        return self.url if self.local else f"{self.url}?token={self.token}"

    def stop(self) -> None:
        self.config.stopping.set()
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.sock.close()


def prepare(out: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, local: bool | None = None) -> Serving:
    """Bind and build the app (nothing served yet). ``local`` (default: whether ``host`` is a loopback
    address) lets pages be read without the token; a test sets it False to try the token on 127.0.0.1."""
    import uvicorn

    from softco.web.app import Config, make_app

    local = is_loopback(host) if local is None else local
    token = secrets.token_urlsafe(24)
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    app_config = Config(out=out.absolute(), token=token, local=local)
    config = uvicorn.Config(
        make_app(app_config),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        lifespan="off",
    )

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:  # Ctrl-C: end the live streams first
            app_config.stopping.set()
            super().handle_exit(sig, frame)

    return Serving(f"http://{shown}:{actual}/", token, local, sock, Server(config), app_config)


def serve_forever(serving: Serving) -> None:
    """Serve in this thread until Ctrl-C (uvicorn stops cleanly on SIGINT / SIGTERM)."""
    try:
        serving.server.run(sockets=[serving.sock])
    finally:
        serving.config.stopping.set()
        serving.sock.close()


def start_thread(serving: Serving) -> Serving:
    """Serve in a daemon thread (``softco new --serve``); :meth:`Serving.stop` ends it."""
    serving.thread = threading.Thread(
        target=serving.server.run,
        kwargs={"sockets": [serving.sock]},
        name="softco-serve",
        daemon=True,
    )
    serving.thread.start()
    return serving
