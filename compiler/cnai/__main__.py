import sys

from cnai.cli import main

sys.exit(main())
