"""An exclusive lock on a cache folder, held across processes (``fcntl.flock`` on its
``.lock`` file): what the installers of Stigg's clients and the image builder take so that two
test processes never build into the same folder at once."""

from __future__ import annotations

import contextlib
import fcntl
import pathlib
from collections.abc import Iterator


@contextlib.contextmanager
def exclusive(folder: pathlib.Path) -> Iterator[None]:
    """Hold ``folder``'s lock (creating the folder) for the ``with`` block."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
