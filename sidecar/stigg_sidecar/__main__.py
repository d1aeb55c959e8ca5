"""``python -m stigg_sidecar`` is ``stigg-sidecar``."""

import sys

from stigg_sidecar import server

sys.exit(server.main())
