"""The one exception of the package: a bad input, reported as one line."""


class UhnError(Exception):
    """A bad input file or argument. str(e) is one line naming what is wrong; the
    command-line tools print it as `PROG: error: MESSAGE` and exit with status 2."""
