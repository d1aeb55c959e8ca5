"""``python -m stigg_operator`` is ``stigg-operator``."""

import sys

from stigg_operator import main

sys.exit(main.main())
