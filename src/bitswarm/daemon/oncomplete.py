"""The on-complete command: a program the user names in the local config file, run when a
torrent finishes, with Transmission's environment variables.

Why it is shaped so:
- It can only come from the config file or the environment (``script_torrent_done_*``
  are in `settings.LOCAL_ONLY`): a command set over the network would be remote code
  execution, the hole Transmission's clients have had to close.
- No shell: the command line is split with `shlex` and run directly, so a torrent's name
  (which a stranger chose) reaches the program only as an environment variable, never as
  shell text.
- Scripts written for Transmission work unchanged: they get ``TR_APP_VERSION``,
  ``TR_TIME_LOCALTIME``, ``TR_TORRENT_DIR``, ``TR_TORRENT_HASH``, ``TR_TORRENT_ID``,
  ``TR_TORRENT_NAME``, ``TR_TORRENT_LABELS``, ``TR_TORRENT_PRIORITY``,
  ``TR_TORRENT_BYTES_DOWNLOADED`` and ``TR_TORRENT_TRACKERS``; each also as ``BITSWARM_...``
  (plus ``BITSWARM_TORRENT_CATEGORY``).
- It never takes the daemon down: a missing program, a non-zero exit or a hang (killed
  after `time_limit` seconds, with its whole process group) is logged, never raised; its
  output is logged line by line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import time
from collections.abc import Mapping

from ..version import __version__
from .model import TorrentView

__all__ = ["DEFAULT_TIMEOUT", "run_on_complete", "torrent_done_env"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 600.0  # seconds; long enough to unpack an archive, short of forever
_MAX_LOGGED_OUTPUT = 64 * 1024  # bytes of the program's output kept for the log


def torrent_done_env(
    view: TorrentView, trackers: list[str], *, now: float | None = None
) -> dict[str, str]:
    """The variables a finished torrent's command gets (Transmission's names and ours).

    `trackers` are the torrent's announce URLs; `now` (Unix seconds) defaults to the clock.
    """
    local = time.localtime(time.time() if now is None else now)
    transmission = {
        "TR_APP_VERSION": __version__,
        "TR_TIME_LOCALTIME": time.asctime(local),
        "TR_TORRENT_DIR": view.options.download_dir,
        "TR_TORRENT_HASH": view.info_hash,
        "TR_TORRENT_ID": str(view.id),
        "TR_TORRENT_NAME": view.name,
        "TR_TORRENT_LABELS": ",".join(view.options.labels),
        "TR_TORRENT_PRIORITY": str(view.options.bandwidth_priority),
        "TR_TORRENT_BYTES_DOWNLOADED": str(view.downloaded_ever),
        "TR_TORRENT_TRACKERS": ",".join(trackers),
    }
    env = dict(transmission)
    env.update({"BITSWARM_" + key[3:]: value for key, value in transmission.items()})
    env["BITSWARM_TORRENT_CATEGORY"] = view.options.category
    return env


async def run_on_complete(
    command: str, env_vars: Mapping[str, str], *, time_limit: float = DEFAULT_TIMEOUT
) -> int | None:
    """Run `command` (split like a shell would, but with no shell) with `env_vars` added to
    the daemon's environment, wait for it at most `time_limit` seconds, and log how it went.

    Returns:
        The exit status, or None when it could not start or was killed for the timeout.
        Failures are logged, never raised. Cancelling this kills the program too.
    """
    who = env_vars.get("TR_TORRENT_NAME") or env_vars.get("TR_TORRENT_HASH") or "?"
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        log.error("on-complete command %r cannot be split: %s", command, exc)
        return None
    if not argv:
        log.error("on-complete command is empty")
        return None
    env = {**os.environ, **env_vars}
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: a timeout kills all of it
        )
    except OSError as exc:
        log.error("on-complete command %s for %s could not start: %s", argv[0], who, exc)
        return None
    assert process.stdout is not None
    output = bytearray()

    async def collect() -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(65536):
            if len(output) < _MAX_LOGGED_OUTPUT:
                output.extend(chunk[: _MAX_LOGGED_OUTPUT - len(output)])

    try:
        await asyncio.wait_for(asyncio.gather(collect(), process.wait()), time_limit)
    except TimeoutError:
        _kill_group(process)
        await process.wait()
        _log_output(argv[0], who, output)
        log.error("on-complete command %s for %s killed after %g s", argv[0], who, time_limit)
        return None
    except asyncio.CancelledError:
        _kill_group(process)
        with contextlib.suppress(asyncio.CancelledError):
            await process.wait()
        raise
    _log_output(argv[0], who, output)
    status = process.returncode
    assert status is not None
    if status == 0:
        log.info("on-complete command %s for %s done", argv[0], who)
    else:
        log.warning("on-complete command %s for %s exited with status %d", argv[0], who, status)
    return status


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _log_output(program: str, who: str, output: bytes | bytearray) -> None:
    for line in output.decode("utf-8", "replace").splitlines():
        if line.strip():
            log.info("on-complete %s for %s: %s", program, who, line)
