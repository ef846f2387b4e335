"""A DVC experiment-queue worker (`dvc exp queue-worker NODE [--clean]`) without two waits.

`traincycle queue start` runs this module in place of `dvc exp queue-worker`: the same DVC
command in the same process (same node name, log, pid file and tasks, so `dvc queue status`,
`stop` and `logs` see no difference), with two of its fixed waits taken out:

- before it starts, a DVC worker pings its own node name over the broker to find a duplicate;
  a ping nobody answers waits its whole 1 s timeout, so every worker started 1 s late. Here the
  duplicate check looks for another process with the node name among its arguments (as the
  start command does, under its lock), which also sees a worker that is still importing;
- kombu's filesystem broker, which DVC's queue uses, is polled every 1 s while a worker is
  idle, so a worker took up to 1 s to pick up the next experiment after one ended (0.2 to
  0.9 s measured); here every `POLL_S`. Each poll lists the broker's folder: no measurable CPU.
"""

from __future__ import annotations

import os
import sys

#: seconds between an idle worker's looks at the broker (kombu's default is 1.0)
POLL_S = 0.1


def served_elsewhere(worker: object, name: str, timeout: float = 1.0) -> list[dict[str, str]]:
    """Stands in for `TemporaryWorker.ping`: a reply per other live process of node `name`
    (empty when there is none), so the worker refuses to start as a duplicate."""
    from traincycle.workers import node_pids

    return [{name: f"pid {pid}"} for pid in node_pids({name}).get(name, []) if pid != os.getpid()]


def adjust() -> None:
    """Apply both changes to this process's kombu transports and DVC queue workers."""
    from dvc_task.worker import TemporaryWorker
    from kombu.transport import virtual

    virtual.Transport.polling_interval = POLL_S  # a transport's default unless its options set one
    TemporaryWorker.ping = served_elsewhere


def main(argv: list[str]) -> int:
    """Run `dvc exp queue-worker` with `argv` (node name, optional --clean) in this process."""
    from dvc.cli import main as dvc_main

    adjust()
    return dvc_main(["exp", "queue-worker", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
