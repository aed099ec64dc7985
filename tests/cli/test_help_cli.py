"""Help texts, shell completion and the man page, all from the one parser (issue 12, item 6).

The walk fails for an option without help, an option taking a value whose help does not
show its default, and a command whose --help does not end with examples. The completion
scripts run in real bash, zsh and fish (Debian packages; with CI=true a missing shell
fails); the man page goes through groff and must name every command and option.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bitswarm.cli.help_text import Formatter, takes_value, walk
from bitswarm.cli.main import build_parser

BITSWARM = [sys.executable, "-m", "bitswarm"]


def _commands() -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    # `lab` without its distribution swallows every word (no -h): nothing to describe
    return [(w, p) for w, p in walk(build_parser()) if p.add_help]


def test_every_option_has_help_and_shows_its_default() -> None:
    faults = []
    for words, parser in _commands():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            name = " ".join([*words, *(action.option_strings or [action.dest])])
            if not action.help:
                faults.append(f"{name}: no help")
                continue
            shown = Formatter(parser.prog)._expand_help(action)
            if takes_value(action) and not action.required and "default" not in shown:
                faults.append(f"{name}: default not shown")
    assert not faults, "\n".join(faults)


def test_every_command_help_ends_with_examples() -> None:
    faults = []
    for words, parser in _commands():
        text = parser.format_help()
        tail = text[text.rfind("examples:") :] if "examples:" in text else ""
        if not tail or not any(
            line.strip().startswith("bitswarm") or "bitswarm " in line
            for line in tail.splitlines()[1:]
        ):
            faults.append(" ".join(words) or "(bitswarm)")
        if "%(default)" in text or "(default: None)" in text:
            faults.append(f"{' '.join(words)}: an unexpanded or empty default")
    assert not faults, "commands without examples: " + ", ".join(faults)


def test_download_help_as_a_person_sees_it() -> None:
    done = subprocess.run(
        [*BITSWARM, "download", "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    lines = done.stdout.rstrip().splitlines()
    assert "examples:" in lines and lines[-1].strip()
    assert lines.index("examples:") > max(i for i, line in enumerate(lines) if "--port" in line)
    assert "(default: 1.0)" not in done.stdout  # not doubled next to its own default text
    assert "peer_port from the config file, else 6881" in " ".join(done.stdout.split())


def _script(shell: str, tmp: Path) -> Path:
    done = subprocess.run(
        [*BITSWARM, "completion", shell], capture_output=True, text=True, timeout=30, check=True
    )
    path = tmp / f"bitswarm.{shell}"
    path.write_text(done.stdout)
    return path


def _shell(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed (scripts/install-system-deps.sh)")
        pytest.skip(f"{name} is not installed")
    return found


BASH_TRY = r"""
source "$1"
t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _bitswarm
      echo "${COMPREPLY[*]}"; }
t bitswarm rem
t bitswarm remote ""
t bitswarm download x.torrent --dht-b
t bitswarm resume clean --d
t bitswarm download --port ""
"""


def test_bash_completion(tmp_path: Path) -> None:
    out = subprocess.run(
        [_shell("bash"), "-c", BASH_TRY, "bash", str(_script("bash", tmp_path))],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.stderr == ""
    lines = out.stdout.split("\n")
    assert lines[0] == "remote"
    assert set(lines[1].split()) >= {"list", "add", "start", "stop", "set"}
    assert lines[2] == "--dht-bootstrap"
    assert lines[3] == "--dry-run"
    assert lines[4] == ""  # a port: no word list (the shell's default completion)


ZSH_TRY = r"""
compdef() { : }
_describe() { local -a found; found=("${(@P)4}"); print -r -- "${(j: :)found}"; }
_files() { print FILES }
source "$1"
words=(bitswarm ""); CURRENT=2; _bitswarm
words=(bitswarm remote ""); CURRENT=3; _bitswarm
words=(bitswarm download x.torrent --dh); CURRENT=4; _bitswarm
words=(bitswarm download --port ""); CURRENT=4; _bitswarm
"""


def test_zsh_completion(tmp_path: Path) -> None:
    zsh = _shell("zsh")
    script = _script("zsh", tmp_path)
    assert script.read_text().startswith("#compdef bitswarm\n")
    out = subprocess.run(
        [zsh, "-f", "-c", ZSH_TRY, "zsh", str(script)], capture_output=True, text=True, timeout=30
    )
    assert out.stderr == ""
    top, remote, options, value = out.stdout.split("\n")[:4]
    assert "download:download a torrent, then seed it" in top and "config:" in top
    assert "add:add torrents" in remote and "download:" not in remote
    assert "--dht-bootstrap:a DHT node" in options and "--port:listening port" in options
    assert value == "FILES"


def test_fish_completion(tmp_path: Path) -> None:
    fish = _shell("fish")
    script = _script("fish", tmp_path)

    def complete(line: str) -> list[str]:
        out = subprocess.run(
            [fish, "--no-config", "-c", f"source {script}; complete -C {line!r}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.stderr == ""
        return [row.split("\t")[0] for row in out.stdout.splitlines()]

    assert complete("bitswarm rem") == ["remote"]
    assert {"add", "list", "set"} <= set(complete("bitswarm remote "))
    assert complete("bitswarm download x.torrent --dht-b") == ["--dht-bootstrap"]
    assert "--dry-run" in complete("bitswarm resume clean --")
    assert "--dry-run" not in complete("bitswarm resume list --")


def test_man_page_names_every_command_and_option(tmp_path: Path) -> None:
    groff = _shell("groff")
    roff = subprocess.run(
        [*BITSWARM, "man"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert roff.startswith(".TH BITSWARM 1 ")
    out = subprocess.run(
        [groff, "-man", "-Tutf8", "-Wall", "-P", "-cbou"],
        input=roff,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
    page = out.stdout
    for words, parser in _commands():
        if words:
            assert f"bitswarm {' '.join(words)}" in page
        for action in parser._actions:
            for option in action.option_strings:
                assert option in page, f"{' '.join(words)} {option}"
    assert "Examples:" in page and "bitswarm resume clean --dry-run" in page


def test_global_options_complete_and_are_in_the_man_page(tmp_path: Path) -> None:
    """-q, --log-level and --log-file (options.py) reach every command's completion, before
    the command and after it, and the man page's top OPTIONS."""
    tries = "\n".join(
        ['source "$1"', *BASH_TRY.splitlines()[2:4]]  # the `t` helper
        + [f"t {line}" for line in ("bitswarm --log-", "bitswarm download x.torrent --log-",
                                    "bitswarm resume list --qu", "bitswarm config --log-f")]
    )  # fmt: skip
    out = subprocess.run(
        [_shell("bash"), "-c", tries, "bash", str(_script("bash", tmp_path))],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.stderr == ""
    lines = out.stdout.split("\n")
    assert set(lines[0].split()) == set(lines[1].split()) == {"--log-level", "--log-file"}
    assert lines[2:4] == ["--quiet", "--log-file"]
    roff = subprocess.run(
        [*BITSWARM, "man"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    top = roff.split(".SH COMMANDS")[0]
    for option in (
        r"\-q, \-\-quiet",
        r"\-\-log\-level {debug,info,warning,error}",
        r"\-\-log\-file",
    ):
        assert option in top
