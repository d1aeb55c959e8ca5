"""``python -m stigg_devkit.tie PARENT_PID [--nofile N] -- PROGRAM [ARGS...]``: become PROGRAM,
tied to the life of the thread that started this process (what ``childproc.tied`` runs).

It asks the kernel to SIGKILL this process when that thread exits (``PR_SET_PDEATHSIG``, which
an exec keeps), exits at once if ``PARENT_PID`` is no longer its parent (the parent died before
the request), sets ``RLIMIT_NOFILE`` to N if asked, and execs PROGRAM (looked up in ``PATH``).
The signals Python ignores for itself (SIGPIPE, SIGXFSZ) are given back their default action
first, as a direct child of a shell would have them; a PROGRAM that cannot be run exits 127
with one line on stderr. Run isolated (``python -I``): neither the working folder nor
``PYTHON*`` variables of the child's environment change what this module is. Only the standard
library is imported, so it costs a Python start-up and nothing more.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys

_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    if "--" not in argv or argv.index("--") < 1 or argv.index("--") == len(argv) - 1:
        raise SystemExit("usage: python -m stigg_devkit.tie PARENT_PID [--nofile N] -- PROGRAM [ARGS...]")
    split = argv.index("--")
    options, program = argv[:split], argv[split + 1 :]
    parent = int(options[0])
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        raise SystemExit(1)  # the parent is already gone: so goes the child
    if "--nofile" in options:
        limit = int(options[options.index("--nofile") + 1])
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    for restored in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(restored, signal.SIG_DFL)
    try:
        os.execvp(program[0], program)  # noqa: S606 -- becoming the given program is the point
    except OSError as error:
        print(f"stigg_devkit.tie: cannot run {program[0]}: {error}", file=sys.stderr)
        raise SystemExit(127) from None


if __name__ == "__main__":
    main(sys.argv[1:])
