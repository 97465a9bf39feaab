import sys

from cnai_train.cli import main

sys.exit(main())
