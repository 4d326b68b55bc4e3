"""A client for a plain-HTTP endpoint (a local server) loads no certificates (~25 ms before the first call),
and still follows no redirect to HTTPS without verifying it: its TLS context trusts no one."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openai
import pytest

from softco.llm.openai import make_client

ANSWER = {
    "id": "x",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
}


class _Answer(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        location = getattr(self.server, "redirect_to", None)
        body = b"" if location else json.dumps(ANSWER).encode()
        self.send_response(307 if location else 200)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[ThreadingHTTPServer]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate, answering every chat call."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert)]
        + ["-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from _serve(server)


@pytest.fixture
def redirecting(tls_server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    """A plain-HTTP server on 127.0.0.1 that redirects every call to the HTTPS one."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.redirect_to = f"https://127.0.0.1:{tls_server.server_port}/v1/chat/completions"  # type: ignore[attr-defined]
    yield from _serve(server)


def test_a_plain_http_endpoints_redirect_to_https_is_not_followed_unverified(
    redirecting: ThreadingHTTPServer, tls_server: ThreadingHTTPServer
) -> None:
    async def ask(base_url: str) -> Any:
        client = make_client(base_url, None)
        try:
            return await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        finally:
            await client.close()

    with pytest.raises(openai.APIConnectionError):  # the self-signed certificate is not trusted
        asyncio.run(ask(f"http://127.0.0.1:{redirecting.server_port}/v1"))
    # the HTTPS server does answer: what failed was trusting it, not reaching it
    insecure = openai.AsyncOpenAI(
        base_url=f"https://127.0.0.1:{tls_server.server_port}/v1",
        api_key="x",
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(verify=False),
    )

    async def direct() -> Any:
        try:
            return await insecure.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        finally:
            await insecure.close()

    assert asyncio.run(direct()).choices[0].message.content == "hi"
