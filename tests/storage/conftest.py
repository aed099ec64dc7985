"""Fixtures of real disk faults (tests/fault_mounts.py) for the tests in this folder."""

from ..fault_mounts import ext4_disk, fault_fs

__all__ = ["ext4_disk", "fault_fs"]
