"""redis-py is an extra (``bitswarm[redis]``): without it, `--store redis://` says so in one
line, before anything is bound, and the memory store works as before."""

from __future__ import annotations

import sys

import pytest

from bitswarm.cli.main import main
from bitswarm.tracker_server.app import make_store
from bitswarm.tracker_server.config import ConfigError, TrackerConfig


@pytest.fixture
def without_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports of redis fail as if it were not installed (None in sys.modules)."""
    for name in [name for name in sys.modules if name == "redis" or name.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "bitswarm.tracker_server.redis_store", raising=False)
    monkeypatch.setitem(sys.modules, "redis", None)


@pytest.mark.usefixtures("without_redis")
def test_a_redis_store_without_redis_py_names_the_extra() -> None:
    with pytest.raises(ConfigError, match=r"pip install 'bitswarm\[redis\]'"):
        make_store("redis://127.0.0.1:6379/0", TrackerConfig())
    assert make_store("memory", TrackerConfig()) is not None


@pytest.mark.usefixtures("without_redis")
def test_the_tracker_command_says_it_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tracker", "--store", "unix:///run/redis.sock", "--http", "127.0.0.1:0"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bitswarm[redis]" in err


def test_with_redis_py_the_redis_store_is_made() -> None:
    pytest.importorskip("redis")
    store = make_store("redis://127.0.0.1:1/0", TrackerConfig())
    assert type(store).__name__ == "RedisSwarmStore"
