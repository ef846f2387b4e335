"""User-facing errors and the exit codes the stages and the CLI use.

Exit codes (documented in the README):
  0  success
  1  internal error (a bug: please report it; rerun with TRACEBACK=1 for the traceback)
  2  user error: bad input data, bad params, missing file
  3  a gate failed: a critical data-quality, bias, fairness or parity check
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

EXIT_INTERNAL = 1
EXIT_USER = 2
EXIT_GATE = 3

F = TypeVar("F", bound=Callable[..., Any])


class UserError(Exception):
    """Bad input, params or files; the message names what is wrong and what was expected."""

    exit_code = EXIT_USER


class ConfigError(UserError):
    """A params.yaml problem: unknown key, wrong type, value out of range."""


class DataError(UserError):
    """A data file problem: missing, unreadable, wrong columns, wrong values."""


class GateFailed(UserError):
    """A critical quality, bias, fairness or parity check failed."""

    exit_code = EXIT_GATE


def debug_enabled() -> bool:
    """Whether the user asked for tracebacks (TRACEBACK=1 or --debug)."""
    return os.environ.get("TRACEBACK", "") not in ("", "0")


def one_line(message: object) -> str:
    """Collapse a message to its first non-empty line, so stderr stays one line per error."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return lines[0] if lines else type(message).__name__


def report_errors(func: F) -> F:
    """Turn exceptions into one line on stderr and an exit code, unless TRACEBACK=1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UserError as exc:
            if debug_enabled():
                raise
            print(f"error: {one_line(exc)}", file=sys.stderr)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        except Exception as exc:
            if debug_enabled():
                raise
            print(
                f"internal error: {type(exc).__name__}: {one_line(exc)} "
                "(a bug in traincycle; rerun with TRACEBACK=1 for the traceback)",
                file=sys.stderr,
            )
            sys.exit(EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]
