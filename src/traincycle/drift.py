"""Distribution drift between a reference sample and a current one, per column (scipy.stats).

Numeric columns: population stability index (PSI) over the reference's deciles plus a missing
bin, the two-sample Kolmogorov-Smirnov test, and the Wasserstein distance (also divided by the
reference's standard deviation, so columns of any scale compare). Categorical columns: PSI over
the categories plus a missing bin, the chi-square test of the two count vectors, and Cramér's V.
A column has drifted when its PSI reaches ``monitor.psi``, or when its test is significant
(p < ``monitor.p_value``) with an effect of at least ``monitor.ks`` (KS statistic) or
``monitor.cramers_v``: with thousands of rows a test alone flags differences too small to matter;
or when its KL divergence (Great Expectations, :mod:`traincycle.gxdrift`) reaches ``monitor.kl``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import numpy as np

from traincycle.config import check_range

#: added to empty bins so PSI stays finite (the usual smoothing)
EPSILON = 1e-4
MISSING = "(missing)"


@dataclasses.dataclass(frozen=True)
class MonitorConfig:
    """The `monitor` section of params.yaml: when `traincycle monitor` calls a column drifted."""

    #: PSI at which a column (or the score distribution) has drifted (0.1-0.25: moderate shift)
    psi: float = 0.2
    #: PSI reported as a warning (exit 0)
    warn_psi: float = 0.1
    #: numeric: KS statistic (largest gap between the two CDFs) that counts as a real shift
    ks: float = 0.1
    #: categorical: Cramér's V that counts as a real shift
    cramers_v: float = 0.1
    #: significance the KS / chi-square test must reach along with the effect size
    p_value: float = 0.001
    #: KL divergence from the reference (Great Expectations' expectation) at which a column drifted
    kl: float = 0.5
    #: share of scored rows carrying unknown_category or out_of_range flags that fails the check
    max_flagged_share: float = 0.05
    #: numeric columns are binned on the reference's quantiles into this many bins
    bins: int = 10
    #: reference rows used (a seeded sample of the training split; 0 = all)
    max_reference_rows: int = 50_000

    def __post_init__(self) -> None:
        check_range("monitor.psi", self.psi, 0.0, low_open=True)
        check_range("monitor.warn_psi", self.warn_psi, 0.0, self.psi)
        check_range("monitor.ks", self.ks, 0.0, 1.0)
        check_range("monitor.cramers_v", self.cramers_v, 0.0, 1.0)
        check_range("monitor.p_value", self.p_value, 0.0, 1.0, low_open=True)
        check_range("monitor.kl", self.kl, 0.0, low_open=True)
        check_range("monitor.max_flagged_share", self.max_flagged_share, 0.0, 1.0)
        check_range("monitor.bins", self.bins, 2, 100)
        check_range("monitor.max_reference_rows", self.max_reference_rows, 0)


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    p = reference / max(reference.sum(), 1) + EPSILON
    q = current / max(current.sum(), 1) + EPSILON
    return float(np.sum((q - p) * np.log(q / p)))


def numeric_drift(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """PSI, KS and Wasserstein figures of two float arrays (NaN = missing), with the histogram."""
    from scipy import stats

    ref, cur = reference[~np.isnan(reference)], current[~np.isnan(current)]
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1))) if len(ref) else np.array([0.0])
    inner = edges[1:-1]  # open-ended outer bins catch values beyond the reference's range
    ref_counts = _counts(reference, inner)
    cur_counts = _counts(current, inner)
    out: dict[str, Any] = {"kind": "numeric", "psi": psi(ref_counts, cur_counts)}
    if len(ref) and len(cur):
        ks = stats.ks_2samp(ref, cur)
        std = float(np.std(ref))
        distance = float(stats.wasserstein_distance(ref, cur))
        out.update({"ks": float(ks.statistic), "ks_p": float(ks.pvalue), "wasserstein": distance,
                    "wasserstein_std": distance / std if std > 0 else 0.0,
                    "reference_mean": float(ref.mean()), "current_mean": float(cur.mean())})
    labels = [f"< {inner[0]:.4g}"] if len(inner) else []
    labels += [f"{a:.4g} - {b:.4g}" for a, b in itertools.pairwise(inner)]
    labels += [f">= {inner[-1]:.4g}"] if len(inner) else ["all"]
    out["histogram"] = _histogram([*labels, MISSING], ref_counts, cur_counts)
    return out


def _counts(values: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Counts per bin (`inner` edges, open at both ends) plus a last bin of missing values."""
    present = values[~np.isnan(values)]
    counts = np.bincount(np.searchsorted(inner, present, side="right"), minlength=len(inner) + 1)
    return np.append(counts, np.isnan(values).sum()).astype(np.float64)


def categorical_drift(reference: np.ndarray, current: np.ndarray) -> dict[str, Any]:
    """PSI, chi-square and Cramér's V of two object arrays of text (None = missing)."""
    from scipy import stats

    ref = np.array([MISSING if v is None else v for v in reference.tolist()], dtype=object)
    cur = np.array([MISSING if v is None else v for v in current.tolist()], dtype=object)
    levels = sorted(set(ref.tolist()) | set(cur.tolist()))
    index = {v: i for i, v in enumerate(levels)}
    ref_counts = np.bincount([index[v] for v in ref.tolist()], minlength=len(levels)).astype(float)
    cur_counts = np.bincount([index[v] for v in cur.tolist()], minlength=len(levels)).astype(float)
    out: dict[str, Any] = {"kind": "categorical", "psi": psi(ref_counts, cur_counts),
                           "new_categories": [v for v in levels if ref_counts[index[v]] == 0]}
    table = np.vstack([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] > 1 and ref_counts.sum() and cur_counts.sum():
        chi2, p, _dof, _expected = stats.chi2_contingency(table)
        v = math.sqrt(chi2 / (table.sum() * (min(table.shape) - 1)))
        out.update({"chi2": float(chi2), "chi2_p": float(p), "cramers_v": v})
    out["histogram"] = _histogram(levels, ref_counts, cur_counts)
    return out


def _histogram(labels: list[str], ref: np.ndarray, cur: np.ndarray) -> list[dict[str, Any]]:
    ref_share = ref / max(ref.sum(), 1)
    cur_share = cur / max(cur.sum(), 1)
    return [{"bin": str(b), "reference": round(float(r), 6), "current": round(float(c), 6)}
            for b, r, c in zip(labels, ref_share, cur_share, strict=True)]


def judge(figures: dict[str, Any], cfg: MonitorConfig) -> str:
    """critical (drifted), warning, or ok, for one column's figures."""
    value = figures["psi"]
    tested = (figures.get("ks_p", 1.0) < cfg.p_value and figures.get("ks", 0.0) >= cfg.ks) or (
        figures.get("chi2_p", 1.0) < cfg.p_value and figures.get("cramers_v", 0.0) >= cfg.cramers_v)
    if value >= cfg.psi or tested or figures.get("kl", 0.0) >= cfg.kl:
        return "critical"
    return "warning" if value >= cfg.warn_psi else "ok"
