"""`python -m meridian.cli`: the `meridian` command."""

import sys

from meridian.cli.main import main

sys.exit(main())
