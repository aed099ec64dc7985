"""Where the daemon's settings come from (daemon/config.py): the XDG folders, the
precedence defaults < config file < environment < command line, the conversions, and one
clear line for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitswarm.daemon.config import (
    default_config_path,
    default_download_dir,
    default_state_dir,
    load_settings,
)
from bitswarm.daemon.model import DaemonError
from bitswarm.daemon.settings import DaemonSettings, setting_names

HOME = Path.home()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refuse(config: Path | None, env: dict[str, str], overrides: dict[str, object]) -> str:
    with pytest.raises(DaemonError) as caught:
        load_settings(config, env, overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------- XDG folders


def test_xdg_folders_follow_the_environment() -> None:
    env = {
        "XDG_CONFIG_HOME": "/cfg",
        "XDG_STATE_HOME": "/state",
        "XDG_DOWNLOAD_DIR": "/dl",
    }
    assert default_config_path(env) == Path("/cfg/bitswarm/config.toml")
    assert default_state_dir(env) == Path("/state/bitswarm")
    assert default_download_dir(env) == Path("/dl")


def test_xdg_folders_default_under_home() -> None:
    for env in ({}, {"XDG_CONFIG_HOME": "", "XDG_STATE_HOME": "", "XDG_DOWNLOAD_DIR": ""}):
        assert default_config_path(env) == HOME / ".config/bitswarm/config.toml"
        assert default_state_dir(env) == HOME / ".local/state/bitswarm"
        assert default_download_dir(env) == HOME / "Downloads"


def test_relative_xdg_paths_are_ignored_as_the_spec_says() -> None:
    env = {"XDG_CONFIG_HOME": "rel/cfg", "XDG_STATE_HOME": "rel", "XDG_DOWNLOAD_DIR": "dl"}
    assert default_config_path(env) == HOME / ".config/bitswarm/config.toml"
    assert default_state_dir(env) == HOME / ".local/state/bitswarm"
    assert default_download_dir(env) == HOME / "Downloads"


def test_download_dir_expands_home_as_user_dirs_writes_it() -> None:
    assert default_download_dir({"XDG_DOWNLOAD_DIR": "$HOME/Téléchargements"}) == (
        HOME / "Téléchargements"
    )
    assert default_download_dir({"XDG_DOWNLOAD_DIR": "~/dl"}) == HOME / "dl"


def test_module_defaults_read_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "/from/process")
    assert default_state_dir() == Path("/from/process/bitswarm")


# --------------------------------------------------------------------- precedence


def test_defaults_only_when_nothing_is_set(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "none"), "XDG_DOWNLOAD_DIR": "/dl"}
    loaded = load_settings(None, env, {})  # a missing default file is fine
    assert loaded.config_file is None
    assert loaded.settings == DaemonSettings(download_dir="/dl")
    assert set(loaded.sources) == set(setting_names())
    assert set(loaded.sources.values()) == {"default"}


def test_the_default_config_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bitswarm" / "config.toml"
    path.parent.mkdir()
    path.write_text("peer_port = 6881\n")
    loaded = load_settings(None, {"XDG_CONFIG_HOME": str(tmp_path)}, {})
    assert loaded.settings.peer_port == 6881
    assert loaded.sources["peer_port"] == f"config file {path}"
    assert loaded.config_file == path


def test_precedence_file_then_environment_then_command_line(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        """
        # a comment
        peer_port = 1000
        rpc_port = 2000
        speed_limit_down = 3000
        alt-speed-enabled = true  # dashes as in Transmission's settings.json
        seed_ratio_limit = 3      # an integer for a number is fine
        rpc_host_whitelist = ["nas.local", "nas"]
        download_dir = "~/films"
        """,
    )
    env = {
        "BITSWARM_RPC_PORT": "2001",
        "BITSWARM_SPEED_LIMIT_DOWN": "3001",
        "BITSWARM_TRACKER_KEY": "00" * 16,  # not a setting: left alone
        "BITSWARM_ALSO_NOT_A_SETTING": "x",
    }
    overrides: dict[str, object] = {"speed_limit_down": 3002, "download_dir": tmp_path / "cli"}
    loaded = load_settings(config, env, overrides)
    s = loaded.settings
    assert (s.peer_port, s.rpc_port, s.speed_limit_down) == (1000, 2001, 3002)
    assert s.alt_speed_enabled is True
    assert s.seed_ratio_limit == 3.0 and isinstance(s.seed_ratio_limit, float)
    assert s.rpc_host_whitelist == ["nas.local", "nas"]
    assert s.download_dir == str(tmp_path / "cli")
    origin = f"config file {config}"
    assert loaded.sources["peer_port"] == origin
    assert loaded.sources["alt_speed_enabled"] == origin
    assert loaded.sources["rpc_port"] == "environment BITSWARM_RPC_PORT"
    assert loaded.sources["speed_limit_down"] == "command line"
    assert loaded.sources["dht_enabled"] == "default"


def test_paths_expand_the_home_folder(tmp_path: Path) -> None:
    config = write(tmp_path, 'download_dir = "~/films"\nwatch_dir = "~/watch"\n')
    s = load_settings(config, {}, {}).settings
    assert (s.download_dir, s.watch_dir) == (str(HOME / "films"), str(HOME / "watch"))


# --------------------------------------------------------------------- conversions


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("off", False),
    ],
)
def test_environment_booleans(text: str, value: bool) -> None:
    s = load_settings(Path("/dev/null"), {"BITSWARM_DHT_ENABLED": text}, {}).settings
    assert s.dht_enabled is value


def test_environment_numbers_text_and_lists() -> None:
    env = {
        "BITSWARM_PEER_PORT": " 6881 ",
        "BITSWARM_SEED_RATIO_LIMIT": "1.25",
        "BITSWARM_RPC_USERNAME": " spaced ",
        "BITSWARM_RPC_HOST_WHITELIST": "a.example, b.example,,",
    }
    s = load_settings(Path("/dev/null"), env, {}).settings
    assert s.peer_port == 6881
    assert s.seed_ratio_limit == 1.25
    assert s.rpc_username == " spaced "  # text is kept as given
    assert s.rpc_host_whitelist == ["a.example", "b.example"]
    s = load_settings(Path("/dev/null"), {"BITSWARM_RPC_HOST_WHITELIST": ""}, {}).settings
    assert s.rpc_host_whitelist == []


def test_command_line_text_is_converted_like_the_environment() -> None:
    s = load_settings(Path("/dev/null"), {}, {"peer_port": "7000", "dht_enabled": "off"}).settings
    assert (s.peer_port, s.dht_enabled) == (7000, False)


# --------------------------------------------------------------------- mistakes


def test_a_missing_named_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert refuse(missing, {}, {}) == f"config file {missing} does not exist"


def test_a_config_file_that_is_not_toml(tmp_path: Path) -> None:
    config = write(tmp_path, "peer_port = = 3\n")
    message = refuse(config, {}, {})
    assert message.startswith(f"config file {config} is not valid TOML") and "line 1" in message
    config.write_bytes(b"peer_port = \xff\n")
    assert "is not valid TOML" in refuse(config, {}, {})


def test_a_config_file_that_cannot_be_read(tmp_path: Path) -> None:
    assert refuse(tmp_path, {}, {}).startswith(f"config file {tmp_path}: ")  # a folder


def test_unknown_keys_are_named_with_a_suggestion(tmp_path: Path) -> None:
    config = write(tmp_path, "peer_prot = 1\n")
    assert refuse(config, {}, {}) == (
        f"config file {config}: unknown setting 'peer_prot' (did you mean 'peer_port'?)"
    )
    config = write(tmp_path, "[rpc]\nport = 1\n")
    assert refuse(config, {}, {}) == f"config file {config}: unknown setting 'rpc'"
    assert refuse(None, {"XDG_CONFIG_HOME": str(tmp_path / "x")}, {"nonsense": 1}) == (
        "command line: unknown setting 'nonsense'"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('peer_port = "6881"', "peer_port must be an integer, not '6881'"),
        ("peer_port = 6881.0", "peer_port must be an integer, not 6881.0"),
        ("peer_port = true", "peer_port must be an integer, not True"),
        ("dht_enabled = 1", "dht_enabled must be true or false, not 1"),
        ("seed_ratio_limit = false", "seed_ratio_limit must be a number, not False"),
        ("rpc_username = 5", "rpc_username must be text, not 5"),
        ('rpc_host_whitelist = "a"', "rpc_host_whitelist must be a list of text, not 'a'"),
        ("rpc_host_whitelist = [1]", "rpc_host_whitelist must be a list of text, not [1]"),
    ],
)
def test_wrongly_typed_values_in_the_file(tmp_path: Path, line: str, expected: str) -> None:
    config = write(tmp_path, line + "\n")
    assert refuse(config, {}, {}) == f"config file {config}: {expected}"


@pytest.mark.parametrize(
    ("variable", "text", "expected"),
    [
        ("BITSWARM_PEER_PORT", "68x1", "peer_port must be an integer, not '68x1'"),
        ("BITSWARM_PEER_PORT", "1.5", "peer_port must be an integer, not '1.5'"),
        ("BITSWARM_DHT_ENABLED", "maybe", "dht_enabled must be 1/0, true/false, yes/no or on/off"),
        ("BITSWARM_SEED_RATIO_LIMIT", "lots", "seed_ratio_limit must be a number, not 'lots'"),
    ],
)
def test_wrongly_typed_values_in_the_environment(variable: str, text: str, expected: str) -> None:
    message = refuse(Path("/dev/null"), {variable: text}, {})
    assert message.startswith(f"environment {variable}: {expected}")


def test_wrongly_typed_override() -> None:
    assert refuse(Path("/dev/null"), {}, {"peer_port": 1.5}) == (
        "command line: peer_port must be an integer, not 1.5"
    )


@pytest.mark.parametrize(
    ("key", "bad", "good", "expected"),
    [
        ("peer_port", -1, 0, "must be in 0..65535"),
        ("peer_port", 65536, 65535, "must be in 0..65535"),
        ("rpc_port", -1, 0, "must be in 0..65535"),
        ("rpc_port", 70000, 65535, "must be in 0..65535"),
        ("speed_limit_down", -1, 0, "must be at least 0"),
        ("alt_speed_up", -5, 0, "must be at least 0"),
        ("alt_speed_time_begin", 1440, 1439, "must be in 0..1439"),
        ("alt_speed_time_end", -1, 0, "must be in 0..1439"),
        ("alt_speed_time_day", 128, 127, "must be in 0..127"),
        ("download_queue_size", 0, 1, "must be at least 1"),
        ("seed_queue_size", 0, 1, "must be at least 1"),
        ("seed_ratio_limit", -0.5, 0.0, "must be at least 0"),
        ("seed_ratio_limit", float("nan"), 0.0, "must be at least 0"),
        ("seed_ratio_limit", float("inf"), 1e9, "must be at least 0"),
        ("rpc_max_body", 10, 1024, "must be at least 1024"),
    ],
)
def test_ranges(key: str, bad: object, good: object, expected: str) -> None:
    env = {"BITSWARM_" + key.upper(): str(bad)}
    message = refuse(Path("/dev/null"), env, {})
    assert message.startswith(f"environment BITSWARM_{key.upper()}: {key} {expected}, not ")
    assert getattr(load_settings(Path("/dev/null"), {}, {key: good}).settings, key) == good


def test_transport(tmp_path: Path) -> None:
    assert load_settings(Path("/dev/null"), {}, {}).settings.transport == "both"
    config = write(tmp_path, 'transport = "quic"\n')
    expected = f"config file {config}: transport must be one of tcp, utp, both"
    assert refuse(config, {}, {}) == expected
    config = write(tmp_path, 'transport = "utp"\n')
    assert load_settings(config, {}, {}).settings.transport == "utp"
    env = {"BITSWARM_TRANSPORT": "tcp"}
    assert load_settings(config, env, {}).settings.transport == "tcp"


def test_encryption_and_password_hash(tmp_path: Path) -> None:
    config = write(tmp_path, 'encryption = "sometimes"\n')
    assert refuse(config, {}, {}) == (
        f"config file {config}: encryption must be one of allowed, disabled, preferred, required, "
        "tolerated"
    )
    config = write(tmp_path, 'rpc_password_hash = "hunter2"\n')
    assert "not the password" in refuse(config, {}, {})
    good = "scrypt$16384$8$1$c2FsdA==$aGFzaA=="
    config = write(tmp_path, f'rpc_password_hash = "{good}"\nencryption = "required"\n')
    assert load_settings(config, {}, {}).settings.rpc_password_hash == good
