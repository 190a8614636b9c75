"""The ``semalign`` command: the parser and the entry point.

Each command group lives in its own module (``plugins``, ``run``, ``demo``, ``encode``, ``fit``,
``zero_shot``, ``evaluate``) exposing ``add_parser(sub)``; this module only assembles them.
Every subcommand exits 0 on success and non-zero with a one-line ``error: ...`` on bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import SemalignError
from . import demo, encode, evaluate, fit, plugins, run, zero_shot
from .extras import missing_module_message

__all__ = ["build_parser", "main"]

#: Command modules in the order ``semalign --help`` lists them.
COMMANDS = (plugins, run, encode, fit, zero_shot, evaluate, demo)


def build_parser() -> argparse.ArgumentParser:
    """The ``semalign`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="semalign",
        description="Align the latent spaces of encoders that were never trained together.",
        epilog="Examples:\n  semalign demo\n  semalign plugins\n  semalign run "
               "examples/pneumonia_zero_shot.yaml\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"semalign {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``semalign`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    Without ``argv`` (run as the ``semalign`` program, which exits next), the objects the
    process holds are frozen out of the garbage collector before returning (:func:`gc.freeze`).
    """
    try:
        try:
            code = _run(argv)
        finally:
            sys.stdout.flush()  # a closed pipe shows here, not in the flush at exit
    except BrokenPipeError:  # every command, --help included, may be piped into `head`
        return _reader_went_away()
    if argv is None:
        import gc

        # Interpreter shutdown runs full collections over every object still alive: after a
        # warm `semalign demo` (scikit-learn, SciPy, matplotlib loaded) 0.6-0.9 s, frozen
        # 0.07 s. Only objects still in reference cycles at exit then go unfinalised, which
        # Python never promised anyway; semalign's files are closed and renamed by now.
        gc.freeze()
    return code


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except SemalignError as exc:
        # one line, whatever the message: scripts grep for it and humans read it first
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise  # not a failure of the command: main() ends quietly
    except (OSError, UnicodeError) as exc:
        # a safety net: file errors the commands did not turn into project errors still give
        # one line, not a traceback
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        reason = getattr(exc, "strerror", None) or str(exc)
        print(f"error: {type(exc).__name__}: {' '.join(reason.split())}{where}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        message = missing_module_message(exc, args.command)
        if message is None:
            raise  # not an optional extra: a broken install or a bug, keep the traceback
        print(f"error: {message}", file=sys.stderr)
        return 1


#: Exit status of a command whose reader closed the pipe (``semalign plugins --json | head``):
#: 128 + SIGPIPE, what a shell reports for any program stopped that way.
EXIT_BROKEN_PIPE = 141


def _reader_went_away() -> int:
    """Stop quietly once nobody reads stdout any more (Python ignores SIGPIPE, so a write to a
    closed pipe raises instead); the remaining buffered output is sent to /dev/null, so the
    flush at exit cannot raise again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (captured in tests)
        pass
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
