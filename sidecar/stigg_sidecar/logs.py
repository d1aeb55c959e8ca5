"""The sidecar's log output: one JSON object per line on stderr, bounded in size and in rate.

* ``JsonFormatter``: time, level, logger, message (and the exception, if any); a message
  longer than ``MAX_MESSAGE`` characters is cut, saying how much was cut, so no input a caller
  sends can make a log line unbounded.
* ``RateLimit``: a warning or error repeated from one place (the same logger and format
  string: "no entitlements for %s", say, while the upstream is down) is written at most
  ``burst`` times per ``window`` seconds; the next one written after a quiet spell says how
  many were left out. Metrics count every occurrence: only the log is thinned.

``configure`` installs both on the root logger; the entry point calls it once.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable

MAX_MESSAGE = 2000


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if len(message) > MAX_MESSAGE:
            message = f"{message[:MAX_MESSAGE]}... ({len(message) - MAX_MESSAGE} more characters)"
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


@dataclasses.dataclass(slots=True)
class _Window:
    started: float
    written: int = 0
    left_out: int = 0  # since the last record written


class RateLimit(logging.Filter):
    """See the module docstring. Records below WARNING always pass."""

    def __init__(
        self, *, burst: int = 10, window: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._burst = burst
        self._window = window
        self._clock = clock
        self._seen: dict[tuple[str, str], _Window] = {}  # by (logger, format string)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        now = self._clock()
        window = self._seen.setdefault((record.name, str(record.msg)), _Window(now))
        if now - window.started >= self._window:
            window.started, window.written = now, 0
        if window.written >= self._burst:
            window.left_out += 1
            return False
        if window.left_out:
            record.msg = f"{record.msg} (and {window.left_out} more like it left out of the log)"
            window.left_out = 0
        window.written += 1
        if len(self._seen) > 10_000:  # distinct places are few; never let the table grow unbounded
            self._seen.clear()
        return True


def configure(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RateLimit())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
