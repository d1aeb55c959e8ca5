"""``python -m stigg_localcluster`` is ``stigg-localcluster``."""

import sys

from stigg_localcluster import cli

sys.exit(cli.main())
