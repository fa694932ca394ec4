"""`python -m cbir.cli`: the `cbir` command."""

import sys

from cbir.cli import main

sys.exit(main())
