"""Runs the recsearch pipeline locally; the same entry point as `recsearch run`.

python local_runner.py [--config FILE | --dataset movielens-100k --data-dir DIR] [--output DIR]
"""

import sys

from recsearch.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
