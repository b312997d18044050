"""A real SMTP server on localhost for tests (aiosmtpd), collecting what it receives.

Usage::

    with SmtpServer() as server:            # a free port on 127.0.0.1
        ... send to server.host, server.port ...
        server.messages[0].message["Subject"]

``SmtpServer(port=...)`` listens on a given port (e.g. one a test first kept closed to simulate an
outage); ``reject={"bad@x"}`` answers 550 to those recipients; ``users={"name": "secret"}`` requires
AUTH with those credentials.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Received:
    """One message as the server got it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage


class CollectingHandler:
    """aiosmtpd handler keeping every accepted message; refuses the recipients in ``reject``."""

    def __init__(self, reject: set[str] | None = None) -> None:
        self.reject = {address.lower() for address in (reject or set())}
        self.messages: list[Received] = []
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.lower() in self.reject:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        received = Received(envelope.mail_from, tuple(envelope.rcpt_tos), raw, parsed)  # type: ignore[arg-type]
        with self._lock:
            self.messages.append(received)
        return "250 Message accepted for delivery"


class _Authenticator:
    """Accepts the user names and passwords it was given."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and self.users.get(auth_data.login.decode()) == (
            auth_data.password.decode()
        )
        return AuthResult(success=ok, handled=False)


class SmtpServer:
    """An aiosmtpd Controller on ``host:port`` (a free port by default), as a context manager."""

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = HOST,
        reject: set[str] | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.handler = CollectingHandler(reject)
        auth: dict[str, Any] = {}
        if users is not None:  # AUTH PLAIN/LOGIN over plain TCP: fine on loopback, for tests only
            auth = {"authenticator": _Authenticator(users), "auth_require_tls": False}
        self._controller = Controller(self.handler, hostname=host, port=self.port, **auth)

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
