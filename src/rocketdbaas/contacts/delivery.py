"""Sending the queued patching emails: each claimed by one worker, retried with backoff until the
mail server takes them.
"""

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from rocketdbaas.contacts.models import NotificationLog, NotificationStatus
from rocketdbaas.core.config import config

logger = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0


def _retry_delay(attempts: int) -> timedelta:
    base = config.CONTACTS_EMAIL_RETRY_BASE_SECONDS
    cap = config.CONTACTS_EMAIL_RETRY_MAX_SECONDS
    return timedelta(seconds=min(cap, base * 2 ** max(attempts - 1, 0)))


def _release_stale_claims(now: datetime) -> None:
    """A worker that died while sending leaves rows claimed; after the lease they are tried again.

    This is the one case where a message could go out twice (the server took it, the worker died
    before recording it); its stable Message-ID lets mail systems drop the duplicate.
    """
    lease = timedelta(seconds=config.CONTACTS_EMAIL_CLAIM_LEASE_SECONDS)
    released = NotificationLog.objects.filter(
        status=NotificationStatus.SENDING, claimed_at__lt=now - lease
    ).update(status=NotificationStatus.PENDING, claimed_at=None, next_attempt_at=now)
    if released:
        logger.warning("Released %d notifications whose sending worker stopped", released)


def _claim_due(limit: int) -> list[NotificationLog]:
    """Take due messages for this worker only: a status change under row locks, before any sending."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            NotificationLog.objects.select_for_update(skip_locked=True)
            .filter(status=NotificationStatus.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        NotificationLog.objects.filter(pk__in=ids, status=NotificationStatus.PENDING).update(
            status=NotificationStatus.SENDING, claimed_at=now
        )
    return list(NotificationLog.objects.filter(pk__in=ids).order_by("next_attempt_at", "id"))


def _message(row: NotificationLog, mail_connection) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body_text,
        from_email=config.DEFAULT_FROM_EMAIL,
        to=[f"{row.recipient_name} <{row.recipient_email}>" if row.recipient_name else row.recipient_email],
        connection=mail_connection,
        headers={"Message-ID": row.message_id, "X-RocketDBaaS-Event": row.event_key},
    )
    if row.body_html:
        message.attach_alternative(row.body_html, "text/html")
    return message


def _is_permanent(exc: Exception) -> bool:
    """5xx answers mean the server will never take this message; anything else may pass later."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False


def _mark_sent(row: NotificationLog) -> None:
    NotificationLog.objects.filter(pk=row.pk, status=NotificationStatus.SENDING).update(
        status=NotificationStatus.SENT,
        attempts=row.attempts + 1,
        sent_at=timezone.now(),
        last_error="",
        claimed_at=None,
    )
    logger.info("Sent notification %s (%s) to %s", row.pk, row.event_key, row.recipient_email)


def _mark_failed(row: NotificationLog, exc: Exception, *, permanent: bool) -> datetime | None:
    attempts = row.attempts + 1
    error = f"{type(exc).__name__}: {exc}"[:2000]
    fields: dict[str, Any] = {"attempts": attempts, "last_error": error, "claimed_at": None}
    if permanent:
        fields["status"] = NotificationStatus.FAILED
        next_at = None
        logger.error("Notification %s to %s refused for good: %s", row.pk, row.recipient_email, error)
    else:
        next_at = timezone.now() + _retry_delay(attempts)
        fields.update(status=NotificationStatus.PENDING, next_attempt_at=next_at)
        logger.warning(
            "Notification %s to %s not sent (attempt %d), retrying at %s: %s",
            row.pk,
            row.recipient_email,
            attempts,
            next_at.isoformat(),
            error,
        )
    NotificationLog.objects.filter(pk=row.pk, status=NotificationStatus.SENDING).update(**fields)
    return next_at


def _send_batch(rows: list[NotificationLog], report: DeliveryReport) -> datetime | None:
    """Send claimed rows over one connection. Returns when to retry if the server could not be reached."""
    timeout = config.EMAIL_TIMEOUT
    mail_connection = get_connection(fail_silently=False, timeout=timeout)
    pending = list(rows)
    try:
        mail_connection.open()
        while pending:
            row = pending[0]
            try:
                _message(row, mail_connection).send()
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                # The server answered about this message; the connection is still good for the next.
                permanent = _is_permanent(exc)
                _mark_failed(row, exc, permanent=permanent)
                if permanent:
                    report.failed += 1
                else:
                    report.retrying += 1
            except OSError:
                raise  # socket or SMTP session trouble (SMTPException is an OSError): the batch stops here
            except Exception as exc:
                # Something wrong with this one message; retry it later, keep sending the others.
                _mark_failed(row, exc, permanent=False)
                report.retrying += 1
            else:
                _mark_sent(row)
                report.sent += 1
            pending.pop(0)
    except Exception as exc:
        retry_at = None
        for row in pending:
            retry_at = _mark_failed(row, exc, permanent=False)
            report.retrying += 1
        return retry_at
    finally:
        try:
            mail_connection.close()
        except Exception:
            logger.debug("Closing the mail connection failed", exc_info=True)
    return None


def deliver_due_notifications(
    batch_size: int = 50, retry_at: Callable[[datetime], None] | None = None
) -> DeliveryReport:
    """Send every due message once; failures wait with exponential backoff, then go again.

    Safe to run in any number of workers at once: each message is claimed by exactly one.
    After sending, `retry_at` (when given) is called with the time the next message is due.
    """
    report = DeliveryReport()
    _release_stale_claims(timezone.now())
    unreachable_until = None
    attempted = False
    while batch := _claim_due(batch_size):
        attempted = True
        unreachable_until = _send_batch(batch, report)
        if unreachable_until is not None:
            break  # the server is down; the others wait for the next run instead of failing one by one
    if attempted and retry_at is not None:
        earliest = NotificationLog.objects.filter(status=NotificationStatus.PENDING).aggregate(
            at=Min("next_attempt_at")
        )["at"]
        if earliest is not None:
            retry_at(max(earliest, unreachable_until) if unreachable_until else earliest)
    return report
