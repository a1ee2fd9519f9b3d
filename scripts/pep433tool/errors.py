"""Exceptions that map to the tool's documented exit codes."""

import re

#: ``scripts/pep433 COMMAND`` without ``--base``
_TOOL_RE = re.compile(r'scripts/pep433 (?!--base )(?=[a-z])')

EXIT_OK = 0
EXIT_PROBLEM = 1        # a check or a test found a problem
EXIT_USAGE = 2          # bad command line (argparse uses 2 as well)
EXIT_PRECONDITION = 3   # something the user must fix first
EXIT_EXTERNAL = 4       # an external command failed unexpectedly


class ToolError(Exception):
    """Base class: an error with an exit code and a message for the user."""

    exit_code = EXIT_EXTERNAL

    def __init__(self, message, *, hint=None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def for_base(self, version):
        """Name the base in every ``scripts/pep433`` command the message
        and the hint give, so that what they say works as it is."""
        def name(text):
            return _TOOL_RE.sub(f'scripts/pep433 --base {version} ', text)
        self.message = name(self.message)
        if self.hint:
            self.hint = name(self.hint)
        return self

    def __str__(self):
        if self.hint:
            return f'{self.message}\n  To fix: {self.hint}'
        return self.message


class ProblemFound(ToolError):
    """A check or a test run found a problem (exit 1)."""

    exit_code = EXIT_PROBLEM


class UsageError(ToolError):
    """The command line is wrong (exit 2)."""

    exit_code = EXIT_USAGE


class PreconditionError(ToolError):
    """A precondition the user must fix (exit 3)."""

    exit_code = EXIT_PRECONDITION


class ExternalError(ToolError):
    """An external command failed unexpectedly (exit 4)."""

    exit_code = EXIT_EXTERNAL
