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


class RateLimit(logging.Filter):
    """See the module docstring. Records below WARNING always pass."""

    def __init__(
        self, *, burst: int = 10, window: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._burst = burst
        self._window = window
        self._clock = clock
        self._seen: dict[
            tuple[str, str], list[float]
        ] = {}  # (logger, format) → [window start, count, left out]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        now = self._clock()
        key = (record.name, str(record.msg))
        started, count, left_out = self._seen.get(key, (now, 0.0, 0.0))
        if now - started >= self._window:
            started, count = now, 0.0
        if count >= self._burst:
            self._seen[key] = [started, count, left_out + 1]
            return False
        if left_out:
            record.msg = f"{record.msg} (and {int(left_out)} more like it left out of the log)"
        self._seen[key] = [started, count + 1, 0.0]
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
