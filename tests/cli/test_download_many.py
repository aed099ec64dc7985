"""`bitswarm download A.torrent B.torrent magnet:?...` (issue 12, item 3): one process, one
session and port for all; each torrent's own events; the run ends when all are over and
the exit status says whether every one succeeded."""

from __future__ import annotations

import dataclasses
import subprocess
from contextlib import ExitStack
from pathlib import Path

import pytest

from bitswarm.cli.selection import content_files
from bitswarm.create import create_torrent
from bitswarm.magnet import Magnet
from bitswarm.metainfo import parse_torrent
from tests.cli.cli_helpers import BITSWARM, checked_events, env_for, seeding
from tests.session.helpers import digest_tree, make_multifile

KiB = 1024


@pytest.mark.timeout(240)
def test_three_torrents_and_a_magnet_nobody_has(tmp_path: Path) -> None:
    torrents, contents, ports = [], [], []
    with ExitStack() as stack:
        for i, sizes in enumerate([[300 * KiB], [200 * KiB, 90 * KiB], [150 * KiB + 3]]):
            made = make_multifile(tmp_path / f"seed{i}", sizes, seed=i + 1)
            content = made.rename(made.with_name(f"content{i}"))  # one folder for all
            torrent = tmp_path / f"t{i}.torrent"
            torrent.write_bytes(create_torrent(content, piece_length=32 * KiB, comment=str(i)))
            torrents.append(torrent)
            contents.append(content)
            ports.append(stack.enter_context(seeding(torrent, tmp_path / f"seed{i}", tmp_path)))
        meta2 = parse_torrent(torrents[2].read_bytes())
        magnet = dataclasses.replace(
            Magnet.from_metainfo(meta2), peers=(("127.0.0.1", ports[2]),)
        ).to_uri()
        nobody = "magnet:?xt=urn:btih:" + "ef" * 20 + "&dn=nobody"
        r = subprocess.run(
            [*BITSWARM, "download", str(torrents[0]), str(torrents[1]), magnet, nobody,
             "-o", "out", "--no-seed", "--json", "--port", "0", "--bind", "127.0.0.1",
             "--peer", f"127.0.0.1:{ports[0]}", "--peer", f"127.0.0.1:{ports[1]}",
             "--metadata-timeout", "4s"],
            capture_output=True, text=True, cwd=tmp_path, env=env_for(tmp_path / "state"),
            timeout=180,
        )  # fmt: skip
    assert r.returncode == 1, r.stderr  # one torrent failed
    records = checked_events(r.stdout, "download")
    start, summary = records[0], records[-1]
    assert start["event"] == "start" and len(start["torrents"]) == 4
    hashes = [parse_torrent(t.read_bytes()).info.info_hashes.wire.hex() for t in torrents]
    completed = {x["info_hash"] for x in records if x["event"] == "completed"}
    assert completed == set(hashes)
    statuses = [x for x in records if x["event"] == "status"]
    assert {x["port"] for x in statuses} == {start["port"]}  # one session, one port
    assert {x["info_hash"] for x in statuses} == set(hashes)
    errors = [x for x in records if x["event"] == "error"]
    assert [x["info_hash"] for x in errors] == ["ef" * 20]
    assert summary["event"] == "summary" and summary["exit_code"] == 1
    assert summary["succeeded"] == 3
    assert [t["result"] for t in summary["torrents"]] == ["done", "done", "done", "failed"]
    for content in contents:
        assert digest_tree(tmp_path / "out" / content.name) == digest_tree(content)
    # The failure is one line on stderr too (stdout holds JSON only).
    failed = [x for x in r.stderr.splitlines() if x.startswith("bitswarm: error:")]
    assert len(failed) == 1 and "nobody" in failed[0]


def test_the_same_torrent_twice_is_refused(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "c", [10 * KiB])
    torrent = tmp_path / "t.torrent"
    torrent.write_bytes(create_torrent(content, piece_length=16 * KiB))
    magnet = Magnet.from_metainfo(parse_torrent(torrent.read_bytes())).to_uri()
    r = subprocess.run(
        [*BITSWARM, "download", str(torrent), magnet, "--peer", "127.0.0.1:9"],
        capture_output=True, text=True, cwd=tmp_path, env=env_for(tmp_path / "state"),
        timeout=60,
    )  # fmt: skip
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "are the same torrent" in r.stderr


@pytest.mark.timeout(240)
def test_file_selection_reaches_every_torrent_of_one_run(tmp_path: Path) -> None:
    """--exclude applies to each torrent (matching in only one of them is fine), a magnet
    link's BEP 53 so= chooses its files once the metadata has arrived, and unselected
    files are never created; the chosen ones are byte-identical."""
    torrents, contents, ports, metas = [], [], [], []
    with ExitStack() as stack:
        for i, sizes in enumerate(
            [[100 * KiB + 5, 70 * KiB, 50 * KiB + 1], [90 * KiB + 3, 60 * KiB]]
        ):
            made = make_multifile(tmp_path / f"seed{i}", sizes, seed=i + 11)
            content = made.rename(made.with_name(f"content{i}"))
            torrent = tmp_path / f"t{i}.torrent"
            torrent.write_bytes(create_torrent(content, piece_length=32 * KiB))
            torrents.append(torrent)
            contents.append(content)
            metas.append(parse_torrent(torrent.read_bytes()))
            ports.append(stack.enter_context(seeding(torrent, tmp_path / f"seed{i}", tmp_path)))
        files1 = content_files(metas[1])
        wanted1 = next(f for f in files1 if f.inner.endswith("file0.bin"))
        magnet = dataclasses.replace(
            Magnet.from_metainfo(metas[1]),
            peers=(("127.0.0.1", ports[1]),),
            select_only=(wanted1.number - 1,),  # so= counts from 0
        ).to_uri()
        assert "so=" in magnet
        r = subprocess.run(
            [*BITSWARM, "download", str(torrents[0]), magnet, "-o", "out", "--no-seed",
             "--json", "--port", "0", "--bind", "127.0.0.1", "--peer", f"127.0.0.1:{ports[0]}",
             "--exclude", "*/file2.bin", "--sequential"],
            capture_output=True, text=True, cwd=tmp_path, env=env_for(tmp_path / "state"),
            timeout=180,
        )  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = checked_events(r.stdout, "download")[-1]
    assert summary["succeeded"] == 2
    out = tmp_path / "out"

    def files(folder: Path) -> set[str]:
        return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}

    # the .torrent: every file but the excluded one
    assert files(out / "content0") == {"file0.bin", "sub/file1.bin"}
    # the magnet: only the file its so= names (the --exclude matches none of its files)
    assert files(out / "content1") == {wanted1.inner}
    for name, folder in [("file0.bin", "content0"), ("sub/file1.bin", "content0")]:
        assert (out / folder / name).read_bytes() == (contents[0] / name).read_bytes()
    assert (out / "content1" / wanted1.inner).read_bytes() == (
        contents[1] / wanted1.inner
    ).read_bytes()
