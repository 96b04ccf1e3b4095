"""The one exception type for mistakes a user can fix (bad option, missing file, impossible plan).

The CLI turns it into one line on stderr and exit code 2; the Python API lets it propagate.
"""


class UserError(Exception):
    """A problem in the user's input: the message names the field, path or number at fault."""

    exit_code = 2


class RunFailed(Exception):
    """The run itself failed (not the user's input); the message names the log to read."""

    exit_code = 1
