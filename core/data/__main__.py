"""`python -m core.data check <config.toml> [--set key=value ...] [--no-decode]`: see core/data/check.py."""

import sys

from core.data.check import main

if __name__ == "__main__":
    sys.exit(main())
