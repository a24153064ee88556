"""``pipeline.driver``: one process holds a job's lock; another is refused and told who holds it;
the lock goes with the job's end, and with its process however that process ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from foundation.settings import Settings
from pipeline.driver import DrivenElsewhereError, claim, holder_elsewhere, lock_path

HOLD = textwrap.dedent(
    """
    import sys, time
    from foundation.settings import Settings
    from pipeline.driver import claim
    claim(Settings(data_dir=sys.argv[1]), "j1")
    print("held", flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def _holding(settings: Settings) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.data_dir)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def test_another_process_is_refused_and_named(settings: Settings) -> None:
    child = _holding(settings)
    try:
        assert (holder_elsewhere(settings, "j1") or "").startswith(f"pid {child.pid} on ")
        with pytest.raises(DrivenElsewhereError) as refused:
            claim(settings, "j1")
        assert (
            f"job j1 is being run by another process (pid {child.pid} on " in refused.value.message
        )
        assert refused.value.exit_code == 1
    finally:
        child.kill()
        child.wait()
    held = claim(settings, "j1")  # the kernel dropped the killed process's lock
    assert holder_elsewhere(settings, "j1") is None
    held.release()


def test_the_lock_goes_with_the_job_and_is_taken_again(settings: Settings) -> None:
    held = claim(settings, "j2")
    assert claim(settings, "j2") == held  # this process holds it already
    assert lock_path(settings, "j2").read_text().startswith(f"pid {os.getpid()} on ")
    held.release()
    assert not lock_path(settings, "j2").exists()
    again = claim(settings, "j2")
    assert lock_path(settings, "j2").exists()
    again.release()


FORK = textwrap.dedent(
    """
    import os, sys
    from foundation.settings import Settings
    from pipeline.driver import DrivenElsewhereError, claim
    settings = Settings(data_dir=sys.argv[1])
    held = claim(settings, "j3")
    pid = os.fork()
    if pid == 0:  # the child: refused, naming its parent
        try:
            claim(settings, "j3")
            os._exit(1)
        except DrivenElsewhereError as exc:
            os._exit(0 if f"pid {os.getppid()} on " in exc.message else 2)
    _, status = os.waitpid(pid, 0)
    held.release()
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


def test_a_forked_child_does_not_believe_it_holds_its_parents_lock(settings: Settings) -> None:
    """Record locks are per process: a child forked while its parent runs a job holds none. Its
    copy of the parent's list of locks would have let it run the job beside the parent. (Forked
    from a fresh interpreter: a fork of the test process, whose other threads may hold locks at
    that moment, hung in its at-fork handlers.)"""
    done = subprocess.run(
        [sys.executable, "-c", FORK, str(settings.data_dir)], capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def test_the_holder_ends_by_a_signal_and_nothing_is_left_to_clean(settings: Settings) -> None:
    child = _holding(settings)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert lock_path(settings, "j1").exists()  # a killed holder cannot remove its file
    assert holder_elsewhere(settings, "j1") is None  # but holds nothing
    claim(settings, "j1").release()
    assert not lock_path(settings, "j1").exists()
