"""Every command line is built by fever.cli.app: sub-commands, --version, errors as messages."""

import argparse

import pytest

from fever.cli.app import EXIT_ERROR, EXIT_INTERRUPTED, Command, run
from fever.errors import FeverError, UsageError

# every command-line program, by the module of its main()
COMMAND_MODULES = [
    "fever.cli.embed",
    "fever.cli.index",
    "distill.cli",
    "tools.bench",
    "tools.bench_index",
    "tools.probe_cli",
    "tools.export_cli",
    "tools.live",
]


class Fails(Command):
    name = "fails"
    help = "raises what it is told to"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("what", choices=("fever", "os", "interrupt", "bug"))

    def run(self, args: argparse.Namespace) -> int:
        if args.what == "fever":
            raise UsageError("--x must be positive")
        if args.what == "os":
            raise OSError(28, "No space left on device", "/tmp/out.parquet")
        if args.what == "interrupt":
            raise KeyboardInterrupt
        raise RuntimeError("a bug keeps its traceback")


def test_errors_become_messages_and_exit_codes(capsys):
    assert run("prog", None, [Fails()], ["fails", "fever"]) == EXIT_ERROR
    assert capsys.readouterr().err == "prog: error: --x must be positive\n"
    assert run("prog", None, [Fails()], ["fails", "os"]) == EXIT_ERROR
    assert "prog: error: [Errno 28] No space left on device: '/tmp/out.parquet'" in capsys.readouterr().err
    assert run("prog", None, [Fails()], ["fails", "interrupt"]) == EXIT_INTERRUPTED
    assert "prog: interrupted" in capsys.readouterr().err
    with pytest.raises(RuntimeError):
        run("prog", None, [Fails()], ["fails", "bug"])


def test_usage_errors_exit_1_not_2(capsys):
    """2 means "some inputs failed" for fever-embed; a bad command line is "could not run"."""
    with pytest.raises(SystemExit) as exit_:
        run("prog", None, [Fails()], ["fails", "nonsense"])
    assert exit_.value.code == EXIT_ERROR and "invalid choice: 'nonsense'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        run("prog", None, [Fails()], [])
    assert exit_.value.code == EXIT_ERROR


@pytest.mark.parametrize("main", COMMAND_MODULES)
def test_every_command_has_version_and_help(main, capsys):
    import importlib

    entry = importlib.import_module(main).main
    with pytest.raises(SystemExit) as exit_:
        entry(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("fever-")
    with pytest.raises(SystemExit) as exit_:
        entry(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "usage: fever-" in out and "``" not in out


def test_every_error_derives_from_fever_error():
    import fever
    import probes
    from distill.package import ComparisonFileError
    from fever.errors import UnknownModelError

    for cls in (
        fever.InputError,
        fever.ModelLoadError,
        fever.OfflineError,
        fever.FeverIndexError,
        probes.ProbeError,
        ComparisonFileError,
        UnknownModelError,
        UsageError,
    ):
        assert issubclass(cls, FeverError), cls
    assert fever.FeverError is probes.FeverError
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        fever.create_model("nope")
    with pytest.raises(UnknownModelError):
        fever.load("no-such-model")


def test_help_does_not_import_torch():
    """--help of every command answers at once: nothing heavy is imported to build the parser."""
    import subprocess
    import sys

    code = (
        "import sys, importlib\n"
        f"for m in {COMMAND_MODULES!r}:\n"
        "    try:\n"
        "        importlib.import_module(m).main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(k for k in ('torch', 'sklearn', 'faiss', 'av') if k in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"


def test_the_lazy_package_exposes_its_names():
    import fever
    import probes

    assert set(fever.__all__) <= set(dir(fever)) and "Extractor" in fever.__all__
    assert fever.device.resolve_device("cpu").type == "cpu"  # submodules as attributes
    assert callable(probes.create) and probes.FeverError is fever.FeverError
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        fever.nope  # noqa: B018


def test_every_option_of_every_command_says_what_it_does():
    import argparse

    from fever.cli import app

    built = []
    real = app.build_parser
    for main in COMMAND_MODULES:
        import importlib

        def capture(*a, real=real):
            built.append(real(*a))
            return built[-1]

        app.build_parser = capture
        try:
            with pytest.raises(SystemExit):
                importlib.import_module(main).main(["--version"])
        finally:
            app.build_parser = real
    silent = []
    for parser in built:
        parsers = [parser] + [
            p for a in parser._actions if isinstance(a, argparse._SubParsersAction) for p in a.choices.values()
        ]
        silent += [
            f"{p.prog} {a.option_strings or a.dest}"
            for p in parsers
            for a in p._actions
            if not a.help and not isinstance(a, argparse._SubParsersAction)
        ]
    assert len(built) == 8 and not silent, silent
