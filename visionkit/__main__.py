import sys

from visionkit.cli import main

sys.exit(main())
