"""`python -m triggers --config FILE --region NAME`: run one region's trigger runner process."""

import sys

from meridian.daemon.lifecycle import daemon_main
from triggers.main import run_triggers

sys.exit(daemon_main("triggers", run_triggers))
