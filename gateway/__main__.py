"""`python -m gateway` runs the command line, like the console script."""

import sys

from gateway.cli import main

sys.exit(main())
