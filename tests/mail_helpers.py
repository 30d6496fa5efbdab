"""A real SMTP server for the mail tests (aiosmtpd, on a free loopback port), keeping the
messages that arrive; and reading the links out of them."""

from __future__ import annotations

import re
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.servers import free_port


class Mailbox:
    """An SMTP server that accepts every message (or refuses recipients in ``refused``)
    and keeps it; with ``credentials``, it offers AUTH (PLAIN/LOGIN, no TLS) and checks them."""

    def __init__(self, port: int | None = None, credentials: tuple[str, str] | None = None):
        self.port = port or free_port()
        self.credentials = credentials
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refused: set[str] = set()
        self.logins: list[str] = []
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        """``SAYSO_MAIL_URL`` for this server (credentials included when it asks for them)."""
        user = f"{self.credentials[0]}:{self.credentials[1]}@" if self.credentials else ""
        return f"smtp://{user}127.0.0.1:{self.port}"

    # aiosmtpd's handler hooks --------------------------------------------------------

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(BytesParser(policy=policy.default).parsebytes(envelope.content))
        return "250 Message accepted"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            given = (auth_data.login.decode(), auth_data.password.decode())
            if given == self.credentials:
                self.logins.append(given[0])
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    # ---------------------------------------------------------------------------------

    def start(self) -> Mailbox:
        """Listen (again, on the same port)."""
        extra = {}
        if self.credentials:
            extra = {
                "authenticator": self._authenticate,
                "auth_required": False,  # (required without TLS, aiosmtpd warns)
                "auth_require_tls": False,
            }
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **extra)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening (what arrived is kept)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        """The messages that arrived for ``address``, oldest first."""
        return [m for m in self.messages if m["To"].addresses[0].addr_spec == address]

    def wait_for(self, address: str, count: int = 1, seconds: float = 10) -> list[EmailMessage]:
        """The messages for ``address`` once ``count`` have arrived (fails after ``seconds``)."""
        deadline = time.monotonic() + seconds
        while len(self.to(address)) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"{count} message(s) to {address} did not arrive: {self.messages}")
            time.sleep(0.05)
        return self.to(address)


def link_to(message: EmailMessage, path: str) -> str:
    """The path (and query) of the link to ``path...`` in the message's text."""
    found = re.search(rf"https?://[^/\s]+({re.escape(path)}\S+)", message.get_content())
    assert found, f"no link to {path} in:\n{message.get_content()}"
    return found.group(1)


@pytest.fixture
def mailbox():
    """A real SMTP server, started; stopped after the test."""
    box = Mailbox().start()
    yield box
    box.stop()
