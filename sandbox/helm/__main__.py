"""`python -m sandbox.helm ...` runs the helm double."""

import sys

from .cli import main

sys.exit(main())
