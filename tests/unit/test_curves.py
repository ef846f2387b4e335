"""train.log_curves: the learning curves replayed through dvclive, one step per iteration."""

import json

from dvclive import Live
from traincycle.train import log_curves

CURVES = [{"train/loss": 0.7 - i / 100, "val/loss": 0.8 - i / 200, "val/roc_auc": 0.5 + i / 100}
          for i in range(40)]


def curve_files(directory):
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted((directory / "plots").rglob("*.tsv"))}


def test_replay_writes_the_files_dvclive_next_step_writes(tmp_path):
    """Setting the step instead of calling next_step() (which re-reads every curve file after
    each step) writes byte-identical curve files."""
    reference = tmp_path / "reference"
    with Live(dir=str(reference), save_dvc_exp=False, dvcyaml=None, report=None, resume=False) as live:
        for step, row in enumerate(CURVES):
            if step:
                live.next_step()
            for name, value in row.items():
                live.log_metric(name, value, timestamp=False)
    log_curves(CURVES, tmp_path / "live")

    ours = curve_files(tmp_path / "live")
    assert sorted(ours) == ["plots/metrics/train/loss.tsv", "plots/metrics/val/loss.tsv",
                            "plots/metrics/val/roc_auc.tsv"]
    assert ours == curve_files(reference)
    lines = ours["plots/metrics/val/roc_auc.tsv"].decode().splitlines()
    assert lines[0] == "step\troc_auc" and len(lines) == 1 + len(CURVES)
    assert lines[-1] == f"39\t{0.5 + 39 / 100}"


def test_summary_holds_the_last_step_and_values(tmp_path):
    log_curves(CURVES, tmp_path / "live")

    summary = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert summary == {"train": {"loss": CURVES[-1]["train/loss"]},
                       "val": {"loss": CURVES[-1]["val/loss"], "roc_auc": CURVES[-1]["val/roc_auc"]},
                       "step": len(CURVES) - 1}
