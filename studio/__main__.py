"""`python -m studio [streamlit flags] [-- --runs-dir DIR]`: the studio on localhost, without usage statistics.

The same as `streamlit run studio/app.py`, with both settings passed as flags, so they hold whatever folder
and whatever Streamlit config are around; flags given here come after them and win (`--server.address 0.0.0.0`
shares the studio on purpose, with a warning).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().with_name("app.py")
SAFE_FLAGS = ["--server.address", "localhost", "--browser.gatherUsageStats", "false"]


def command(argv: list[str]) -> list[str]:
    """The `streamlit run` command line for these arguments."""
    return [sys.executable, "-m", "streamlit", "run", str(APP), *SAFE_FLAGS, *argv]


def main() -> None:
    cmd = command(sys.argv[1:])
    os.execv(cmd[0], cmd)  # streamlit itself takes the terminal and its signals


if __name__ == "__main__":
    main()
