"""`python -m regionnode --config FILE --region NAME`: run one region node process."""

import sys

from meridian.daemon.lifecycle import daemon_main
from regionnode.main import run_node

sys.exit(daemon_main("regionnode", run_node))
