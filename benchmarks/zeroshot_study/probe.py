"""Supervised bound (FINDINGS "Supervised probe bound"): standardised SqueezeNet features and
logistic regression on all 400 labelled train images, evaluated on test at threshold 0.5."""

from __future__ import annotations

import numpy as np
from lib import IMG, LAB, TEST, TRAIN
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main():
    Xtr, ytr, Xte, yte = IMG[TRAIN], LAB[TRAIN], IMG[TEST], LAB[TEST]
    for C in [0.001, 0.01, 0.1, 1.0]:
        m = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000)).fit(Xtr, ytr)
        p = m.predict_proba(Xte)[:, 1]
        print(f"C={C}: test bacc {balanced_accuracy_score(yte, p > 0.5):.3f} "
              f"auc {roc_auc_score(yte, p):.3f}")
    m = make_pipeline(
        StandardScaler(),
        LogisticRegressionCV(Cs=np.logspace(-4, 2, 13), cv=5, max_iter=5000, scoring="roc_auc"),
    ).fit(Xtr, ytr)
    p = m.predict_proba(Xte)[:, 1]
    print(f"LogRegCV (C={m[-1].C_[0]:.4g} chosen by 5-fold train CV): test bacc "
          f"{balanced_accuracy_score(yte, p > 0.5):.3f} auc {roc_auc_score(yte, p):.3f}")


if __name__ == "__main__":
    main()
