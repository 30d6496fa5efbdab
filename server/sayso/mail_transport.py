"""The only way Sayso sends email: to the SMTP server of ``SAYSO_MAIL_URL`` (``smtplib``),
or, with none configured outside production, into ``instance/mail/`` (one ``.eml`` file per
message) and onto the console, so a newcomer running ``make run`` can follow the links."""

from __future__ import annotations

import smtplib
import ssl
import sys
from email.message import EmailMessage
from pathlib import Path

from sayso.shared.clock import utcnow
from sayso.shared.mail_settings import MailServer

#: How long one conversation with the SMTP server may take at each step (seconds).
SMTP_TIMEOUT_SECONDS = 20


class MailFailed(Exception):
    """A message was not handed over. ``permanent``: the server refused it for good (the
    address does not exist); otherwise it is tried again later."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class SmtpTransport:
    """Hands each message to one SMTP server: ``smtps://`` speaks TLS from the start;
    ``smtp://`` upgrades with STARTTLS when the server offers it, and refuses to send in
    the clear with ``?starttls=required``. Certificates are checked (the system's CAs)."""

    def __init__(self, server: MailServer, timeout: float = SMTP_TIMEOUT_SECONDS):
        self.server = server
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        """Send ``message``, or raise :class:`MailFailed`."""
        server = self.server
        context = ssl.create_default_context()
        try:
            if server.tls:
                smtp = smtplib.SMTP_SSL(
                    server.host, server.port, timeout=self.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
            with smtp:
                smtp.ehlo()
                if not server.tls and server.starttls != "off":
                    if smtp.has_extn("starttls"):
                        smtp.starttls(context=context)
                        smtp.ehlo()
                    elif server.starttls == "required":
                        raise MailFailed("the mail server does not offer STARTTLS")
                if server.username:
                    smtp.login(server.username, server.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as refused:
            codes = [code for code, _ in refused.recipients.values()]
            raise MailFailed(
                f"the mail server refused the recipient ({', '.join(map(str, codes))})",
                permanent=all(500 <= code < 600 for code in codes),
            ) from None
        except smtplib.SMTPResponseException as error:
            # Authentication, the sender, a full mailbox...: the operator's to fix, or a
            # passing state of the server: tried again later either way.
            raise MailFailed(f"the mail server answered {error.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise MailFailed(f"could not reach the mail server: {type(error).__name__}") from None


class FileTransport:
    """Writes each message to ``folder`` as ``<time>-<message id>.eml``, and (``echo``) to
    standard error: for development, where no mail leaves the machine."""

    def __init__(self, folder: Path, echo: bool = True):
        self.folder = Path(folder)
        self.echo = echo

    def send(self, message: EmailMessage) -> None:
        """Write ``message`` out; raise :class:`MailFailed` if the folder cannot be written."""
        left = str(message["Message-ID"]).strip("<>").split("@", 1)[0]
        name = f"{utcnow():%Y%m%dT%H%M%S%fZ}-{left}.eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            (self.folder / name).write_bytes(message.as_bytes())
        except OSError as error:
            raise MailFailed(f"could not write {name}: {error.strerror}") from None
        if self.echo:
            # Printed, not logged: log records have their secrets blanked (logs.py), and
            # the link is the point. Only ever without a mail server, outside production.
            rule = "-" * 72
            body = message.get_body(("plain",))
            text = body.get_content() if body is not None else ""
            print(
                f"{rule}\nEmail (no SAYSO_MAIL_URL, so not sent; saved as {self.folder / name})\n"
                f"To: {message['To']}\nSubject: {message['Subject']}\n\n{text}{rule}",
                file=sys.stderr,
                flush=True,
            )


def transport_for(config, instance_path: str):
    """The transport the configuration asks for: SMTP, or the mail folder without it."""
    if config["MAIL_SERVER"] is not None:
        return SmtpTransport(config["MAIL_SERVER"])
    return FileTransport(Path(instance_path) / "mail", echo=config["ENV"] == "development")
