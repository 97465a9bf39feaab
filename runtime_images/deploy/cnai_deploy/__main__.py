import sys

from cnai_deploy.cli import main

sys.exit(main())
