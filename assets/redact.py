"""Secrets never reach a message: the portal token is replaced wherever text is written.

The first line of defence is that no error is ever built from a header value (the
live client never quotes one). This module is the second: every message that goes
to a log, an exception, a manifest or the incident file passes through ``redact``,
and a logging filter does the same for records of the loggers it is put on.
"""

import logging
import os

MASK = "[redacted]"
TOKEN_VARIABLE = "CHISO_PORTAL_TOKEN"
_MIN_LENGTH = 4  # shorter values would mask ordinary words; such a token is refused anyway

_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask ``value`` (and its whitespace-stripped form) in every later ``redact``."""
    if not value:
        return
    for form in (value, value.strip()):
        if len(form) >= _MIN_LENGTH:
            _secrets.add(form)


def _known() -> list[str]:
    found = set(_secrets)
    env = os.environ.get(TOKEN_VARIABLE)
    if env:
        found |= {f for f in (env, env.strip()) if len(f) >= _MIN_LENGTH}
    return sorted(found, key=len, reverse=True)  # the longest first: "x\r" before "x"


def redact(text: str) -> str:
    for secret in _known():
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record whose message holds a secret; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error path
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = str(record.exc_info[1])
            if redact(text) != text:  # the traceback would quote it: keep only the type
                record.msg = f"{record.msg} ({type(record.exc_info[1]).__name__}, redacted)"
                record.exc_info, record.exc_text = None, None
        return True


_FILTER = RedactingFilter()
LOGGER_NAMES = ("dagster", "chiso766", "chiso", "urllib3", "requests")


def install(*loggers: logging.Logger) -> None:
    """Put the filter on the project's and the libraries' loggers, and on any given ones
    (e.g. a step's ``context.log``, which Dagster builds per step). Idempotent."""
    for logger in (*(logging.getLogger(n) for n in LOGGER_NAMES), *loggers):
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
