"""Help texts for every command: defaults shown, and examples at the end of each --help.

`finish(parser)` runs once over the whole parser `main.build_parser` made: every
(sub)parser gets `Formatter`, which appends ``(default: X)`` to an option whose help does
not already say its default, and the examples of `EXAMPLES` as its epilog. Keeping the
examples here, in one table keyed by the command's words, keeps them out of the commands'
modules and lets `tests/cli/test_help_cli.py` find a command that has none. `walk`
yields every parser with its command words; completion.py and manpage.py build on it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

__all__ = ["EXAMPLES", "NEEDS_ROOT", "Formatter", "finish", "takes_value", "walk"]

# A command that describes the whole parser (completion, man) sets its `root_parser`
# default to this; `finish` replaces it with the parser (main is not imported back).
NEEDS_ROOT = "<the root parser>"

EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "": [
        ("bitswarm create -t http://tracker.example/announce ./photos", "make a torrent"),
        ("bitswarm download 'magnet:?xt=urn:btih:...' --dht-port 0", "download, then seed"),
        ("bitswarm download --help", "the options of one command"),
        ("bitswarm -q --log-file bitswarm.log download x.torrent", "no display; log to a file"),
        (
            "bitswarm --log-level debug seed x.torrent ./x",
            "-q, --log-level, --log-file: any command",
        ),
    ],
    "create": [
        ("bitswarm create ./photos", "photos.torrent, piece size chosen as libtorrent does"),
        ("bitswarm create ./photos --json", "a `created` JSON event"),
        ("bitswarm create --hybrid -t udp://tracker.example:6969 ./iso", "v1+v2 with a tracker"),
        ("bitswarm create --piece-size 1MiB --private -o out.torrent big.img", ""),
    ],
    "info": [
        ("bitswarm info photos.torrent", "name, hashes, files (numbered for --select)"),
        ("bitswarm info --json 'magnet:?xt=urn:btih:...'", "as JSON"),
    ],
    "magnet": [
        ("bitswarm magnet photos.torrent", "print its magnet link"),
        ("bitswarm magnet photos.torrent --json", "a `magnet` JSON event"),
    ],
    "download": [
        ("bitswarm download photos.torrent -o ~/Downloads", "download, then seed to ratio 1"),
        ("bitswarm download 'magnet:?xt=urn:btih:...' --dht-port 0", "find peers on the DHT"),
        ("bitswarm download x.torrent --no-seed --download-limit 2MiB", "leech, rate-limited"),
        ("bitswarm download a.torrent b.torrent 'magnet:?xt=urn:btih:...'", "several at once"),
        ("bitswarm download https://example.org/x.torrent", "a .torrent from a URL"),
        ("curl -s https://example.org/x.torrent | bitswarm download -", "or from stdin"),
        ("bitswarm download show.torrent --select 1,3-5 --exclude '*.nfo'", "only some files"),
        ("bitswarm download show.torrent --select 2 --sequential", "in order, for a player"),
        ("bitswarm download x.torrent --json | jq -c 'select(.event == \"status\")'", "JSON"),
        ("bitswarm download x.torrent -q; echo $?", "no display; 0 done, 1 failed, 130 Ctrl-C"),
    ],
    "seed": [
        ("bitswarm seed photos.torrent ./photos", "the data is the torrent's folder"),
        ("bitswarm seed photos.torrent ~/Downloads --upload-limit 1MiB", "or the one above it"),
        ("bitswarm seed photos.torrent ./photos --json", "JSON events; SIGTERM exits 0"),
    ],
    "demo": [
        ("bitswarm demo", "a tracker, a seeder and leechers on this machine"),
        ("bitswarm demo --json --leechers 2", "JSON events: start, peer, summary"),
    ],
    "tracker": [
        ("bitswarm tracker --http 0.0.0.0:8000", "an open HTTP tracker"),
        ("bitswarm tracker --http :8000 --udp :6969", "HTTP and UDP"),
    ],
    "dht": [
        ("bitswarm dht --port 6881 --bootstrap default", "join the public DHT"),
        ("bitswarm dht --port 0 --state dht.state --json", "keep the id, print JSON"),
    ],
    "daemon": [
        ("bitswarm daemon", "run with the config file's settings"),
        ("bitswarm daemon --hash-password", "make rpc_password_hash for the config file"),
    ],
    "remote": [
        ("bitswarm remote list", "the daemon's torrents"),
        ("bitswarm remote add x.torrent", "add one"),
    ],
    "remote list": [("bitswarm remote list --json", "as JSON")],
    "remote add": [
        ("bitswarm remote add x.torrent", "add a torrent file"),
        ("bitswarm remote add 'magnet:?xt=urn:btih:...' --paused", "add a magnet, stopped"),
    ],
    "remote start": [("bitswarm remote start 1", "start torrent 1 (see remote list)")],
    "remote stop": [("bitswarm remote stop 1", "stop torrent 1")],
    "remote verify": [("bitswarm remote verify 1", "recheck torrent 1's data")],
    "remote reannounce": [("bitswarm remote reannounce 1", "ask the trackers for peers now")],
    "remote remove": [("bitswarm remote remove 1", "forget torrent 1, keep its data")],
    "remote info": [("bitswarm remote info 1", "details of torrent 1")],
    "remote files": [("bitswarm remote files 1", "torrent 1's files")],
    "remote set": [("bitswarm remote set 1 --help", "what can be changed")],
    "config": [
        ("bitswarm config", "each setting, its value, and where it came from"),
        ("BITSWARM_PEER_PORT=7000 bitswarm config --json", "the environment wins over the file"),
        ('$EDITOR "$(bitswarm config --path)"', "edit the file"),
    ],
    "resume": [("bitswarm resume list", "the resume files"), ("bitswarm resume clean", "")],
    "resume list": [("bitswarm resume list --json", "one JSON object per file")],
    "resume clean": [
        ("bitswarm resume clean --dry-run", "what would be removed"),
        ("bitswarm resume clean", "remove files whose data is gone"),
    ],
    "completion": [
        ("bitswarm completion bash > ~/.local/share/bash-completion/completions/bitswarm", ""),
        ("bitswarm completion zsh > ~/.zfunc/_bitswarm", "with fpath+=(~/.zfunc)"),
        ("bitswarm completion fish > ~/.config/fish/completions/bitswarm.fish", ""),
    ],
    "man": [("bitswarm man | man -l -", "read the manual page")],
    "lab": [("bitswarm lab --help", "the lab's own commands")],
}


def takes_value(action: argparse.Action) -> bool:
    """An option that is followed by a value (not a flag like --json)."""
    return bool(action.option_strings) and action.nargs != 0


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions and epilogs as written; says each option's default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            takes_value(action)
            and "default" not in text
            and default not in (None, argparse.SUPPRESS, [], "")
        ):
            text += " (default: %(default)s)"
        return text


def walk(
    parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser under `parser` (itself first), with its command words."""
    yield words, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from walk(child, (*words, name))


def subcommands(parser: argparse.ArgumentParser) -> dict[str, str]:
    """The parser's subcommands and their one-line help."""
    out: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {c.dest: c.help or "" for c in action._choices_actions}
            for name in action.choices:
                out[name] = helps.get(name, "")
    return out


def examples_text(words: tuple[str, ...]) -> str | None:
    rows = EXAMPLES.get(" ".join(words))
    if not rows:
        return None
    lines = ["examples:"]
    for command, what in rows:
        lines.append(f"  {command}" + (f"\n      {what}" if what else ""))
    return "\n".join(lines)


def finish(parser: argparse.ArgumentParser) -> None:
    """Give every parser the formatter and its examples (an epilog already set stays)."""
    for words, p in walk(parser):
        p.formatter_class = Formatter
        if p.get_default("root_parser") == NEEDS_ROOT:
            p.set_defaults(root_parser=parser)
        if p.epilog is None:
            p.epilog = examples_text(words)
