"""Commands from other distributions: the ``bitswarm.commands`` entry points, and `bitswarm lab`
when the bitswarm-lab distribution is not installed (one line saying how, exit status 1)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from bitswarm.cli import main as cli_main


@dataclass
class FakeEntryPoint:
    name: str
    registrar: object

    def load(self) -> object:
        return self.registrar


def no_plugins(group: str) -> list[FakeEntryPoint]:
    assert group == cli_main.COMMAND_GROUP
    return []


@pytest.mark.parametrize("argv", [["lab"], ["lab", "--leechers", "8", "--plot", "x.png"],
                                  ["lab", "-h"]])  # fmt: skip
def test_without_the_lab_bitswarm_lab_says_how_to_install_it(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_main, "entry_points", no_plugins)
    assert cli_main.main(argv) == cli_main.EXIT_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("bitswarm: error: ")
    assert "pip install ./lab" in err


def test_the_missing_lab_is_still_listed_in_the_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "entry_points", no_plugins)
    assert "lab" in cli_main.build_parser().format_help()


def test_an_entry_point_adds_its_command_in_place_of_the_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[argparse.Namespace] = []

    def handler(args: argparse.Namespace) -> int:
        ran.append(args)
        return 0

    def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        p = sub.add_parser("lab")
        p.add_argument("--leechers")
        p.set_defaults(handler=handler)

    def plugins(group: str) -> list[FakeEntryPoint]:
        return [FakeEntryPoint("lab", register)] if group == cli_main.COMMAND_GROUP else []

    monkeypatch.setattr(cli_main, "entry_points", plugins)
    assert cli_main.main(["lab", "--leechers", "3"]) == 0
    assert [args.leechers for args in ran] == ["3"]
