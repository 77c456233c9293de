"""``python -m triggers --config FILE --region NAME``: one region's trigger runner."""

from __future__ import annotations

import sys

from triggers.main import main

if __name__ == "__main__":
    sys.exit(main())
