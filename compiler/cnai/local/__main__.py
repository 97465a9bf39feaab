"""``python -m cnai.local run FILE --local ...``: the same as ``cnai run``."""

import sys

from cnai.local.command import main

sys.exit(main())
