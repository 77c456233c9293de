"""`python -m replicator --config FILE --region NAME`: run one replicator process."""

import sys

from meridian.daemon.lifecycle import daemon_main
from replicator.main import run_replicator

sys.exit(daemon_main("replicator", run_replicator))
