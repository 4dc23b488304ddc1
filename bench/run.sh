#!/bin/sh
# The dlc benchmark: builds what it needs and prints a markdown report. Options: see
#   python3 bench/bench.py --help
exec python3 "$(dirname "$0")/bench.py" "$@"
