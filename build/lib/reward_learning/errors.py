"""Errors about user input: the CLI prints their one-line message instead of a traceback."""


class UserInputError(ValueError):
    """Bad input from the user (a path, a file, a flag); the message names it and the fix."""
