"""`python -m cdreasoning …` is the same as the `cdreasoning` console script."""

import sys

from cdreasoning.cli import main

sys.exit(main())
