import sys

from cnai_launcher.cli import main

sys.exit(main())
