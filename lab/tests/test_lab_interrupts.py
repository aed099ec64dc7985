"""Interrupt safety of the lab (bitswarm_lab.interrupts): SIGTERM unwinds like Ctrl-C, and
a signal during clean-up waits until the clean-up is done."""

from __future__ import annotations

import os
import signal
import time

import pytest

from bitswarm_lab.interrupts import signals_deferred, sigterm_raises_interrupt


def test_sigterm_raises_keyboard_interrupt_so_finally_blocks_run() -> None:
    cleaned = []
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), sigterm_raises_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)  # the handler raises at once; never slept through
            pytest.fail("SIGTERM did not interrupt")
        finally:
            cleaned.append(True)
    assert cleaned == [True]
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_during_cleanup_is_held_until_the_cleanup_ends() -> None:
    steps = []
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt, match="SIGINT"), signals_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        steps.append("after the signal")  # still running: the signal was only noted
    assert steps == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is before


def test_no_signal_no_interrupt() -> None:
    with signals_deferred():
        pass
