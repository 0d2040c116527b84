"""A real SMTP server (aiosmtpd) on a free loopback port that records every message it accepts.

    def test_mail(smtp_server):        # started, and Django's EMAIL_* settings point at it
        ...send...
        mail = smtp_server.wait_for(1)[0]
        assert mail.rcpt_tos == ["ops@example.com"] and "Patching" in mail.subject

`SmtpServer()` without the fixture gives a server that is not started yet, for tests where the mail
server is down first (`.django_settings()` to point Django at it, `.start()` when it should come up).
"""

import email
import email.policy
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from tests.support.services import free_port


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def body(self, subtype: str = "plain") -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None else ""

    @property
    def text(self) -> str:
        return self.body("plain")

    @property
    def html(self) -> str:
        return self.body("html")


class _RecordingHandler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.server.rejected:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self.server._record(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port()
        self.rejected: set[str] = set()  # recipients answered with a permanent 550
        self._messages: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def _record(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._messages.append(mail)

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def start(self) -> "SmtpServer":
        controller = Controller(_RecordingHandler(self), hostname=self.host, port=self.port)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """The received messages once there are at least `count`; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            received = self.messages
            if len(received) >= count or time.monotonic() > deadline:
                assert len(received) >= count, f"expected {count} messages, the server got {len(received)}"
                return received
            time.sleep(0.02)

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.messages if address in m.rcpt_tos]

    def django_settings(self) -> dict:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": self.port,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
            "EMAIL_TIMEOUT": 5,
        }


@pytest.fixture
def smtp_server(settings):
    """A started SMTP server on a free loopback port; Django sends its email there for the test."""
    server = SmtpServer().start()
    for name, value in server.django_settings().items():
        setattr(settings, name, value)
    try:
        yield server
    finally:
        server.stop()
