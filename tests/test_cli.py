"""The ``semalign`` command: exit codes, output, and that it stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from semalign_core import __version__
from semalign_core.cli.main import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"semalign {__version__}"


def test_plugins_table(capsys, semalign_isolated_plugins):
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "semalign_core.align.identity -  loaded"
    assert lines[1] == "  solvers:"
    assert lines[2].split()[:2] == ["identity", "f(x)"]


def test_plugins_json(capsys, semalign_isolated_plugins):
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    builtin = next(d for d in data if d["name"] == "semalign_core.align.identity")
    assert builtin["registered"] == {"solver": ["identity"]}
    assert set(builtin) == {"name", "version", "source", "status", "error", "hooks",
                            "registered", "components"}
    assert builtin["components"][0]["name"] == "identity"


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: semalign" in capsys.readouterr().out


def test_unknown_command_exits_non_zero(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["plugins", "--help"])
    assert "Examples:" in capsys.readouterr().out


def test_import_and_plugin_listing_never_import_torch():
    code = ("import sys, semalign_core; assert 'torch' not in sys.modules, 'import'; "
            "semalign_core.list_solvers(); semalign_core.list_encoders(); "
            "from semalign_core.cli.main import main; main(['plugins']); "
            "assert 'torch' not in sys.modules, 'plugins'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_only_the_program_run_freezes_the_heap_for_a_fast_exit(capsys,
                                                               semalign_isolated_plugins):
    """``main()`` as the program (no argv: the console script, which exits next) freezes the
    heap out of the collector, so shutdown does not traverse it; a call with argv (a test, a
    script calling the CLI and carrying on) leaves the collector alone."""
    import gc

    before = gc.get_freeze_count()
    assert main(["plugins"]) == 0
    assert gc.get_freeze_count() == before
    code = ("import gc, sys; from semalign_core.cli.main import main; sys.argv[1:] = ['plugins']; "
            "code = main(); print('frozen', gc.get_freeze_count() > 0); sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "frozen True"


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "semalign_core.cli.main", "--version"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and __version__ in result.stdout


@pytest.mark.parametrize("command", ["demo", "run"])
def test_a_missing_extra_is_one_error_line_naming_it(command, tmp_path):
    # A core-only install lacks the `experiments` extra: None in sys.modules makes every import
    # of the module fail with ModuleNotFoundError, as if it were not installed.
    config = tmp_path / "c.yaml"
    config.write_text("output_dir: out\n")
    argv = [command, str(config)] if command == "run" else [command, "--write-config",
                                                             str(tmp_path / "d.yaml")]
    module = "pydantic"
    code = (f"import sys; sys.modules[{module!r}] = None; "
            f"from semalign_core.cli.main import main; sys.exit(main({argv!r}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert f"`semalign {command}` needs {module!r}" in err and ".[experiments]" in err


def test_a_missing_module_of_no_extra_keeps_its_traceback():
    from semalign_core.cli.extras import missing_module_message

    assert missing_module_message(ModuleNotFoundError("x", name="torchvision"), "encode") is None
    message = missing_module_message(ModuleNotFoundError("x", name="sklearn.metrics"), "evaluate")
    assert message is not None and "'metrics' extra" in message


@pytest.mark.parametrize("argv", [["plugins", "--json"], ["plugins"], ["demo", "--help"]])
def test_a_closed_pipe_ends_quietly(argv):
    # `semalign plugins --json | head`: the reader is gone before the command writes. Closing
    # our end of the pipe at once makes every write of the child fail, deterministically.
    proc = subprocess.Popen([sys.executable, "-m", "semalign_core.cli.main", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()
    # Our commands exit 141. For --help it depends on who sees the write error first: argparse
    # swallows it and exits 0, or our entry point catches it and exits 141 (a race).
    assert proc.returncode in ((0, 141) if "--help" in argv else (141,))


def test_every_option_of_every_command_has_help_text():
    import argparse

    from semalign_core.cli.main import build_parser

    (subparsers,) = [a for a in build_parser()._actions
                     if isinstance(a, argparse._SubParsersAction)]
    missing = [f"{name} {'/'.join(action.option_strings) or action.dest}"
               for name, parser in subparsers.choices.items() for action in parser._actions
               if not action.help]
    assert not missing, f"options without help text: {missing}"


def _example_commands(text: str) -> list[list[str]]:
    """The ``semalign ...`` commands of a help text's Examples section (``\\`` continuations
    joined), each split like a shell would."""
    import shlex

    joined = text.split("Examples:", 1)[1].replace("\\\n", " ")
    return [shlex.split(line.strip())[1:] for line in joined.splitlines()
            if line.strip().startswith("semalign ")]


def test_encode_help_shows_a_ray_example_that_parses(capsys):
    from semalign_core.cli.main import build_parser

    with pytest.raises(SystemExit):
        main(["encode", "--help"])
    ray = [argv for argv in _example_commands(capsys.readouterr().out) if "ray" in argv]
    assert ray, "semalign encode --help shows no Ray example"
    args = build_parser().parse_args(ray[0])  # the example is a valid command line
    assert (args.command, args.engine) == ("encode", "ray")
    assert args.workers and args.address and args.cache_dir  # Ray needs a cache


def test_readme_says_in_one_line_how_to_run_on_a_cluster():
    import re
    import shlex
    from pathlib import Path

    from semalign_core.cli.main import build_parser

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"^On a Ray cluster: (.*?\.)$", readme, re.M | re.S)
    assert len(found) == 1, "the README has no one-sentence 'On a Ray cluster: ...' line"
    line = found[0].replace("\n", " ")
    assert len(line) < 200 and "pip install 'semalign-core[ray]'" in line  # one line, short
    assert "docs/scale.md" in line
    command = re.search(r"`semalign (encode [^`]*)`", line)
    assert command, line
    # the placeholders filled in, the command line parses with the real parser
    argv = shlex.split(command.group(1).replace("...", "--encoder x --manifest m.csv -o o.st")
                       .replace(" DIR", " cache").replace(" N ", " 4 "))
    args = build_parser().parse_args(argv)
    assert (args.engine, args.workers, args.address, args.cache_dir) == ("ray", 4, "auto",
                                                                         "cache")


def test_encode_hash_on_workers_is_for_the_ray_engine(capsys, tmp_path):
    texts = tmp_path / "m.csv"
    texts.write_text("id,text\na,clear lungs\n")
    out = tmp_path / "o.safetensors"
    assert main(["encode", "--encoder", "x", "--manifest", str(texts), "-o", str(out),
                 "--hash-on", "workers"]) == 1
    assert "hash_on must be one of" in capsys.readouterr().err and not out.exists()
