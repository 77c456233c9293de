"""`python -m replicator --config FILE --region NAME`: run one replicator process."""

import argparse
import sys

from replicator.main import run_replicator

parser = argparse.ArgumentParser(prog="python -m replicator")
parser.add_argument("--config", required=True)
parser.add_argument("--region", required=True)
args = parser.parse_args()
sys.exit(run_replicator(args.config, args.region))
