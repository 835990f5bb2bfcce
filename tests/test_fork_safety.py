"""``fork_flag``: set in this process, clear in any child forked afterwards."""

from __future__ import annotations

import os
import sys
import warnings

import pytest

from posthog_client._fork_safety import PidFlag, fork_flag


def child_reads(flag: object) -> int:
    """What ``flag[0]`` reads in a child forked now (its exit code)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os._exit(flag[0])  # type: ignore[index]
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
@pytest.mark.parametrize("make", [fork_flag, PidFlag], ids=["fork_flag", "PidFlag"])
def test_a_flag_reads_set_here_and_clear_in_a_forked_child(make: object) -> None:
    flag = make()  # type: ignore[operator]
    assert flag[0] == 0
    flag[0] = 1
    assert flag[0] == 1
    assert child_reads(flag) == 0
    assert flag[0] == 1


@pytest.mark.skipif(sys.platform != "linux", reason="MADV_WIPEONFORK is Linux's")
def test_on_linux_the_flag_is_a_wiped_page_not_a_system_call() -> None:
    assert not isinstance(fork_flag(), PidFlag)
