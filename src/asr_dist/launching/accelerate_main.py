"""`accelerate launch`, with the training's exit code passed through instead of a traceback.

accelerate's single-process launcher raises CalledProcessError when the script exits non-zero,
which prints a Python traceback over our own one-line error and turns every code into 1. This
entry point runs accelerate's own `launch_command` with the same arguments and exits with the
training's code (75 after a signal checkpoint, 3/4/5 for the run's own failures)."""
from __future__ import annotations

import subprocess
import sys


def main() -> None:
    from accelerate.commands.launch import launch_command, launch_command_parser

    args = launch_command_parser().parse_args()
    try:
        launch_command(args)
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode if exc.returncode > 0 else 128 - exc.returncode)


if __name__ == "__main__":
    main()
