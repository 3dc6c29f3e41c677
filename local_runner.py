"""Runs the recsearch pipeline locally; the same entry point as `recsearch run`.

python local_runner.py [--config FILE | --dataset movielens-100k --data-dir DIR] [--output DIR]
"""

import sys

from recsearch.apps import cli

if __name__ == "__main__":
    sys.argv[1:1] = ["run"]
    cli.run()
