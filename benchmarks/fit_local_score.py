"""Refit the local score's weights (``quality/local_score.yaml``) on the labelled corpus.

Run: ``.venv/bin/python benchmarks/fit_local_score.py [--l2 1.0] [--dry-run]``

Every clip of ``tests/quality/score_corpus.py`` goes through the gate (image safety on, as in the
pipeline); its signals (``quality.local_score.signals``) and its label (good or defective) feed an
L2-regularised logistic regression. The script prints the training AUC and a 5-fold
cross-validated AUC, and writes the weights with how they were fitted.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quality.image_safety import FrameSafety, shared_classifier
from quality.local_score import MODEL, Model, auc, default_model, fit
from tests.quality import score_corpus as sc

# not fitted (the corpus holds no unsafe media): a frame flagged unsafe sinks the clip's score
FIXED = {"unsafe": -20.0}


def cross_validated(rows: list[dict[str, float]], labels: list[int], l2: float) -> float:
    """AUC of 5-fold cross-validation (each clip scored by a model fitted without it)."""
    scores = [0.0] * len(rows)
    for fold in range(5):
        train = [i for i in range(len(rows)) if i % 5 != fold]
        intercept, weights, mean, scale = fit(
            [rows[i] for i in train], [labels[i] for i in train], FIXED, l2
        )
        model = Model(intercept, weights, mean, scale, FIXED, {})
        for i in range(fold, len(rows), 5):
            scores[i] = model.score(rows[i])
    return auc(scores, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--l2", type=float, default=0.3)
    parser.add_argument("--dry-run", action="store_true", help="print, do not write the YAML")
    args = parser.parse_args()
    cases = sc.labelled()
    with tempfile.TemporaryDirectory(prefix="fit_local_score_") as tmp:
        safety = FrameSafety(shared_classifier(), 0.8)
        verdicts = sc.run(cases, Path(tmp), safety)
    neutral = default_model()
    rows = [sc.verdict_signals(verdict, neutral) for _, verdict in verdicts]
    labels = [int(case.good) for case in cases]
    intercept, weights, mean, scale = fit(rows, labels, FIXED, args.l2)
    trained = Model(intercept, weights, mean, scale, FIXED, {})
    scores = [trained.score(row) for row in rows]
    good = [s for s, label in zip(scores, labels, strict=True) if label]
    bad = [s for s, label in zip(scores, labels, strict=True) if not label]
    fitted = {
        "corpus": sc.VERSION,
        "clips": len(rows),
        "good": len(good),
        "defective": len(bad),
        "method": f"L2-regularised logistic regression (lambda {args.l2}), classes weighed "
        "equally, Newton steps, sign-constrained weights, standardised signals",
        "auc_train": round(auc(scores, labels), 4),
        "auc_5fold": round(cross_validated(rows, labels, args.l2), 4),
        "lowest_good": round(min(good), 4),
        "highest_defective": round(max(bad), 4),
        "command": "benchmarks/fit_local_score.py",
        "date": datetime.date.today().isoformat(),
        "load_average": round(os.getloadavg()[0], 1),
    }
    model = Model(intercept, weights, mean, scale, FIXED, fitted)
    for (case, _), row, score in sorted(
        zip(verdicts, rows, scores, strict=True), key=lambda item: item[2]
    ):
        shown = " ".join(f"{k}={v:.3g}" for k, v in row.items())
        print(f"{score:.3f} {'good' if case.good else 'bad '} {case.name:32s} {shown}")
    print(yaml.safe_dump(model.to_dict(), sort_keys=False))
    if not args.dry_run:
        header = "# Fitted by benchmarks/fit_local_score.py: do not edit by hand, rerun it.\n"
        MODEL.write_text(header + yaml.safe_dump(model.to_dict(), sort_keys=False))


if __name__ == "__main__":
    main()
