"""How every fever command line is built (insightface's ``commands/`` habit, argparse only).

A command is a :class:`Command`: it adds its arguments and runs. :func:`run` builds the parser
(real argparse sub-commands when a program has several), adds ``--version``, and is the one place
that turns errors into exit codes:

- ``0`` success; ``1`` the command could not run: a usage error, a :class:`~fever.errors.FeverError`
  or an ``OSError`` of the system (disk full, permission denied), printed as ``PROG: error: MESSAGE``
  with no traceback; ``130`` interrupted (Ctrl-C);
- a command may return ``2`` itself for "ran, but some inputs failed" (``fever-embed``).
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Sequence

from probes.errors import FeverError

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 130


class Command:
    """One command: ``name`` and ``help`` for the parser, ``add_arguments`` and ``run``."""

    name: str = ""
    help: str = ""
    description: str | None = None
    # run() applies --threads (fever.threads) before the command when it has the option
    applies_threads: bool = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add this command's options (import nothing heavy here: ``--help`` must stay fast)."""

    def run(self, args: argparse.Namespace) -> int:
        raise NotImplementedError


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """``--threads N``: torch, BLAS and faiss threads of the process (:mod:`fever.threads`); :func:`run`
    applies it before the command runs."""
    from ..threads import THREADS_ENV, default_threads, parse_threads

    def thread_count(text: str) -> int:
        try:
            return parse_threads(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parser.add_argument(
        "--threads",
        type=thread_count,
        # a string default goes through thread_count when a command runs, never for --help
        default=default_threads(),
        help=f"threads of torch, BLAS and faiss (default: ${THREADS_ENV}, else every core); "
        "give each process its share when several run at once",
    )


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1 ("could not run"), not argparse's 2 (which fever-embed uses for failed inputs)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the layout of descriptions and shows every default."""


def _version() -> str:
    try:
        return version("fever")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def _plain(text: str | None) -> str | None:
    """Docstrings double as --help texts: their RST literals (``x``) read as plain x there."""
    return text.replace("``", "") if text else text


def build_parser(prog: str, description: str | None, commands: Sequence[Command]) -> argparse.ArgumentParser:
    """The parser of a program: one command's options at the top level, or one sub-command each."""
    parser = _Parser(prog=prog, description=_plain(description), formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    if len(commands) == 1 and not commands[0].name:
        commands[0].add_arguments(parser)
        parser.set_defaults(_command=commands[0])
        return parser
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for command in commands:
        p = sub.add_parser(
            command.name,
            help=_plain(command.help),
            description=_plain(command.description or command.help),
            formatter_class=_HelpFormatter,
        )
        command.add_arguments(p)
        p.set_defaults(_command=command)
    return parser


def run(prog: str, description: str | None, commands: Sequence[Command], argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; the exit code of the program.

    Args:
        prog: the program name shown in messages.
        description: the ``--help`` text of the program.
        commands: one nameless command, or named sub-commands.
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit code (see the module docstring).
    """
    parser = build_parser(prog, description, commands)
    args = parser.parse_args(argv)
    try:
        if getattr(args, "threads", None) is not None and args._command.applies_threads:
            from ..threads import set_num_threads

            set_num_threads(args.threads)
        return int(args._command.run(args))
    except (FeverError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing that was already written is lost", file=sys.stderr)
        return EXIT_INTERRUPTED
