"""The log stays bounded whatever callers send or however often things fail: a message is cut
at ``MAX_MESSAGE`` characters (a 1 MiB customer id was logged in full, once per request), and a
warning repeated from one place is written at most ``burst`` times per window, the next one
saying how many were left out; records below WARNING always pass."""

from __future__ import annotations

import json
import logging

from stigg_sidecar import logs


def _record(
    msg: str, *args: object, level: int = logging.WARNING, name: str = "stigg_sidecar.checker"
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_a_huge_message_is_cut_saying_how_much() -> None:
    line = logs.JsonFormatter().format(_record("no entitlements for %s: %s", "c" * 2**20, "down"))
    entry = json.loads(line)
    assert len(line) < logs.MAX_MESSAGE + 200
    assert entry["message"].endswith(
        f"... ({2**20 + len('no entitlements for : down') - logs.MAX_MESSAGE} more characters)"
    )
    assert entry["level"] == "warning"


def test_repeated_warnings_are_thinned_and_the_next_says_how_many_were_left_out() -> None:
    clock = [0.0]
    limit = logs.RateLimit(burst=3, window=10, clock=lambda: clock[0])
    passed = [limit.filter(_record("no entitlements for %s: %s", f"c{n}", "down")) for n in range(100)]
    assert passed.count(True) == 3
    assert limit.filter(_record("another place %s", "x")), "another format string has its own budget"
    assert limit.filter(_record("debug detail %s", "x", level=logging.INFO)), "below WARNING always passes"

    clock[0] = 10.5
    later = _record("no entitlements for %s: %s", "c", "down")
    assert limit.filter(later)
    assert later.getMessage() == "no entitlements for c: down (and 97 more like it left out of the log)"
    again = _record("no entitlements for %s: %s", "c", "down")
    assert limit.filter(again)
    assert again.getMessage() == "no entitlements for c: down", "said once"
