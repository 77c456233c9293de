"""`python -m regionnode --config FILE --region NAME`: run one region node process."""

import argparse
import sys

from regionnode.main import run_node

parser = argparse.ArgumentParser(prog="python -m regionnode")
parser.add_argument("--config", required=True)
parser.add_argument("--region", required=True)
args = parser.parse_args()
sys.exit(run_node(args.config, args.region))
