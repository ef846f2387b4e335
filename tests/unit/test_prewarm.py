"""prewarm: background imports started once no more trials will start and a core is free."""

from __future__ import annotations

import sys

from traincycle.prewarm import Prewarm, TailWarmer


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def start(self) -> bool:
        self.calls += 1
        return self.calls == 1


def test_one_job_on_two_cores_warms_as_the_last_trial_starts():
    warm = Counting()
    tail = TailWarmer(warm, todo=3, cores=2)
    for _ in range(2):
        tail.started()
        tail(None, None)
    assert warm.calls == 0
    tail.started()  # the last trial: the second core is free while it runs
    assert warm.calls == 1


def test_one_job_per_core_warms_when_a_slot_frees_after_the_last_start():
    warm = Counting()
    tail = TailWarmer(warm, todo=4, cores=2)
    tail.started(), tail.started(), tail(None, None), tail.started()
    tail(None, None)
    tail.started()  # last trial started, but both cores busy
    assert warm.calls == 0
    tail(None, None)  # a slot frees and nothing is left to start
    assert warm.calls == 1


def test_prewarm_imports_once_in_the_background_and_swallows_errors():
    sys.modules.pop("colorsys", None)
    warm = Prewarm(["no_such_module_xyz", "colorsys"])
    assert warm.start() is True and warm.start() is False
    warm.thread.join(10)
    assert "colorsys" not in sys.modules  # stopped at the failing import; the real import reports it
    warm = Prewarm(["colorsys"])
    warm.start()
    warm.thread.join(10)
    assert "colorsys" in sys.modules
