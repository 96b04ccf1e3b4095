"""`accelerate launch`, with the training's exit code passed through instead of a traceback.

accelerate's single-process launcher raises CalledProcessError when the script exits non-zero,
and its multi-process launcher (torch elastic) raises ChildFailedError; both print a Python
traceback over our own one-line error and turn every code into 1. This entry point runs
accelerate's own `launch_command` with the same arguments and exits with the training's code
(75 after a signal checkpoint, 3/4/5 for the run's own failures; 128+N for a rank killed by
signal N)."""
from __future__ import annotations

import subprocess
import sys


def _code(returncode: int) -> int:
    return returncode if returncode > 0 else 128 - returncode


def main() -> None:
    from accelerate.commands.launch import launch_command, launch_command_parser
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    args = launch_command_parser().parse_args()
    try:
        launch_command(args)
    except subprocess.CalledProcessError as exc:
        sys.exit(_code(exc.returncode))
    except ChildFailedError as exc:
        # the table of failed ranks (which rank failed first, its exit code or signal), no traceback
        print(exc.format_msg(), file=sys.stderr, flush=True)
        sys.exit(_code(exc.get_first_failure()[1].exitcode))


if __name__ == "__main__":
    main()
