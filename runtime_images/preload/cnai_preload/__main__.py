import sys

from cnai_preload.cli import main

sys.exit(main())
