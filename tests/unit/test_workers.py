"""workers: DVC queue workers started inside a core slot with thread variables for it."""

from __future__ import annotations

import hashlib
import os

from traincycle.workers import node_name, pinned_process


def test_a_pinned_block_runs_on_its_cores_with_matching_threads_and_restores_both():
    before_affinity, before_env = os.sched_getaffinity(0), dict(os.environ)
    cores = (sorted(before_affinity)[0],)
    with pinned_process(cores):
        assert os.sched_getaffinity(0) == set(cores)  # children (the DVC worker) inherit this
        assert os.environ["OMP_NUM_THREADS"] == os.environ["OPENBLAS_NUM_THREADS"] == "1"
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert os.sched_getaffinity(0) == before_affinity and dict(os.environ) == before_env


def test_node_names_are_dvcs_so_dvc_queue_status_and_stop_see_the_workers():
    wdir = "/repo/.dvc/tmp/exps"
    digest = hashlib.sha256(wdir.encode()).hexdigest()[:6]
    assert node_name(wdir, 2) == f"dvc-exp-{digest}-2@localhost"
