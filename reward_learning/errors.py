"""Errors about user input: the CLI prints their one-line message instead of a traceback."""

import errno

DISK_FULL: tuple[int, ...] = (errno.ENOSPC, errno.EDQUOT)
"""``OSError.errno`` values of a full disk (or quota): the user frees space and resumes."""


class UserInputError(ValueError):
    """Bad input from the user (a path, a file, a flag); the message names it and the fix."""
