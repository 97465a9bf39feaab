import sys

from cnai_evaluate.cli import main

sys.exit(main())
