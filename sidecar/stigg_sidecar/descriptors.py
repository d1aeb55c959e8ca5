"""File descriptors: how many the process may hold, and how they are shared between the ports.

A descriptor is spent on every connection either port accepts; once they run out, nothing can
be accepted or opened (no check, no probe, no upstream fetch, no outbox write). So at start the
soft ``RLIMIT_NOFILE`` is raised to the hard limit (as Go programs do; containers often start
with a soft limit of 1024), then the gRPC connection cap is lowered, if need be, so that the gRPC
connections, the HTTP connections (``SIDECAR_HTTP_MAX_CONNECTIONS``) and a reserve for the
process's own files and connections all fit. Neither port can then starve the other.
"""

from __future__ import annotations

import logging
import resource

logger = logging.getLogger(__name__)

# The outbox database, upstream and Redis connections, the real-time stream, logs, listeners.
RESERVE = 256
MIN_GRPC_CONNECTIONS = 16


def raise_soft_limit() -> int:
    """Raise the soft descriptor limit to the hard one; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as error:
            logger.warning("could not raise the descriptor limit from %d: %s", soft, error)
    return soft


def grpc_connection_cap(limit: int, *, grpc_max: int, http_max: int) -> int:
    """The gRPC connections that fit in ``limit`` descriptors beside the HTTP cap and the reserve."""
    return max(MIN_GRPC_CONNECTIONS, min(grpc_max, limit - http_max - RESERVE))
