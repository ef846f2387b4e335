"""queueworker: DVC's queue worker with a process-table duplicate check and a faster broker poll."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from traincycle import queueworker

SELF_CHECK = ("import sys; from traincycle.queueworker import served_elsewhere; "
              "print(served_elsewhere(None, sys.argv[1]))")


@pytest.fixture
def adjusted():
    """`queueworker.adjust()` applied, undone after the test (it patches classes process-wide)."""
    from dvc_task.worker import TemporaryWorker
    from kombu.transport import virtual

    saved = virtual.Transport.polling_interval, TemporaryWorker.ping
    queueworker.adjust()
    yield TemporaryWorker
    virtual.Transport.polling_interval, TemporaryWorker.ping = saved


def test_the_filesystem_broker_dvc_uses_is_polled_every_poll_s(adjusted, tmp_path):
    from kombu import Connection

    folders = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    with Connection("filesystem://", transport_options=folders) as conn:
        assert conn.transport.polling_interval == queueworker.POLL_S < 1.0


def test_the_workers_duplicate_check_answers_for_another_process_with_its_node_name(adjusted):
    node = f"dvc-exp-qw{os.getpid()}-1@localhost"
    worker = adjusted.__new__(adjusted)  # the check reads no worker state
    assert worker.ping(node) == []
    # the worker itself has its node name among its arguments: not a duplicate of itself
    alone = subprocess.run([sys.executable, "-c", SELF_CHECK, node], capture_output=True, text=True,
                           timeout=120, check=True)
    assert alone.stdout == "[]\n"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", node])
    try:
        assert worker.ping(node) == [{node: f"pid {other.pid}"}]  # TemporaryWorker.start refuses
    finally:
        other.kill()
        other.wait()
