"""Shared recipe and cross-validation machinery of the zero-shot study.

Loads the cached embeddings (``cache.npz``, ``prompts.npz`` and, if present, ``cache_pert.npz``)
from ``$SEMALIGN_STUDY_DIR`` at import, then exposes one configurable recipe:

anchor selection -> report pairing -> source/target preprocessing -> map (ridge/lstsq/procrustes)
-> class embeddings -> cosine score -> threshold.

``run_seed`` runs one anchor draw, ``evaluate`` averages train-CV draws (anchors from the 400 train
images, evaluated on the other 300) and test draws (the 624 test images). Every option is a key
of ``DEFAULT``; the study's scripts vary them.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from study_paths import study_dir


def _load(name):
    path = study_dir() / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run embed_cache.py and prompts.py (and embed_perturbed.py for "
            "cache_pert.npz) first, or point $SEMALIGN_STUDY_DIR at a folder that holds it"
        )
    return np.load(path)


D = _load("cache.npz")
P = _load("prompts.npz")
IMG, LAB, SPLIT = D["img"].astype(np.float64), D["label"], D["split"]
TRAIN = np.where(SPLIT == "train")[0]
TEST = np.where(SPLIT == "test")[0]
RCLS = D["rep_cls"]
_imp, _find = D["rep_imp"].astype(np.float64), D["rep_find"].astype(np.float64)
_has_imp, _has_find = D["has_imp"][:, None], D["has_find"][:, None]
SECTIONS = {
    "imp": np.where(_has_imp, _imp, _find),  # impression (findings if missing)
    "find": np.where(_has_find, _find, _imp),  # findings (impression if missing)
    "both": D["rep_both"].astype(np.float64),
}
# The perturbed train features are only needed by the selection stage (shiftcv, grid_shift).
PERT = dict(_load("cache_pert.npz")) if (study_dir() / "cache_pert.npz").exists() else {}
TROW = {g: i for i, g in enumerate(TRAIN)}  # global index -> row in PERT arrays
ALPHAS = [1e-1, 1, 3, 10, 30, 100, 300, 1000, 3000, 1e4, 3e4, 1e5]
CV_SEEDS = range(100, 120)  # anchor draws for train-CV; distinct from the test seeds
TEST_SEEDS = range(5)

DEFAULT = dict(section="imp", pairing="rand1", k=5, classemb="hand2", map="ridge", alpha=100.0,
               src_pre="standard", tgt_pre="center", selector="strat", calib="zero", n=100,
               norm_targets=True, trans_src=False, pert=None, cv_prior=None)


def unit(a):
    return a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)


def select(cfg, rng, seed):
    """Anchor images (global indices) drawn from the train pool."""
    n, pool = cfg["n"], TRAIN
    if n >= len(pool):
        return pool.copy()
    s = cfg["selector"]
    if s == "random":
        return rng.choice(pool, n, replace=False)
    if s == "strat":
        return np.concatenate(
            [rng.choice(pool[LAB[pool] == c], n // 2, replace=False) for c in (0, 1)]
        )
    if s == "kmeans":  # label-free: image closest to each of n k-means centroids
        X = IMG[pool]
        X = (X - X.mean(0)) / (X.std(0) + 1e-8)
        km = KMeans(n_clusters=n, n_init=1, random_state=seed).fit(X)
        idx = []
        for j in range(n):
            m = np.where(km.labels_ == j)[0]
            d = ((X[m] - km.cluster_centers_[j]) ** 2).sum(1)
            idx.append(pool[m[np.argmin(d)]])
        return np.array(idx)
    raise ValueError(s)


def targets(cfg, anchors, rng):
    R = SECTIONS[cfg["section"]]
    # split report pool per class: half for anchor pairing, half for class embeddings (disjoint)
    pair_pool, proto_pool = {}, {}
    for c in (0, 1):
        ids = rng.permutation(np.where(RCLS == c)[0])
        h = len(ids) // 2
        pair_pool[c], proto_pool[c] = ids[:h], ids[h:]
    Y = []
    for a in anchors:
        c = LAB[a]
        pp = pair_pool[c]
        if cfg["pairing"] == "rand1":
            y = R[rng.choice(pp)]
        elif cfg["pairing"] == "meank":
            y = R[rng.choice(pp, cfg["k"], replace=False)].mean(0)
        elif cfg["pairing"] == "classmean":
            y = R[pp].mean(0)
        else:
            raise ValueError(cfg["pairing"])
        Y.append(y)
    Y = np.array(Y)
    if cfg["norm_targets"]:
        Y = unit(Y)
    return Y, proto_pool, R


def class_emb(cfg, proto_pool, R):
    """Class vectors built by the library's ClassEmbeddings: one source per '+'-separated name
    (``repmean`` = the held-out reports, else a prompt set), each class the unit mean of its unit
    rows, combined by the recipe's rule (the mean of the sources, not renormalised)."""
    from semalign_core import ClassEmbeddings

    sources = [ClassEmbeddings.from_vectors(
        {str(c): R[proto_pool[c]] if name == "repmean" else P[f"{name}_{c}"] for c in (0, 1)},
        name=name) for name in cfg["classemb"].split("+")]
    return sources[0].combine(*sources[1:]).mean_of_sources().astype(np.float64)


def prep_fit(X, kind):
    """Fit a preprocessing on ``X`` and return it as a function."""
    if kind == "none":
        return lambda Z: Z
    if kind == "l2std":
        Xn = unit(X)
        mu, sd = Xn.mean(0), Xn.std(0) + 1e-8
        return lambda Z: (unit(Z) - mu) / sd
    mu = X.mean(0)
    sd = X.std(0) + 1e-8 if kind == "standard" else np.ones(X.shape[1])
    return lambda Z: (Z - mu) / sd


def fit_map(Xs, Yt, cfg, alpha=None):
    alpha = cfg["alpha"] if alpha is None else alpha
    m = cfg["map"]
    xm, ym = Xs.mean(0), Yt.mean(0)  # intercept (affine)
    Xc, Yc = Xs - xm, Yt - ym
    if m == "ridge":  # dual (kernel) closed form: n anchors << 512 features
        K = Xc @ Xc.T
        A = np.linalg.solve(K + alpha * np.eye(len(K)), Yc)
        W = Xc.T @ A
    elif m == "lstsq":
        W = np.linalg.lstsq(Xc, Yc, rcond=None)[0]
    elif m == "procrustes":  # semi-orthogonal W (512x384), W^T W = I
        U, _, Vt = np.linalg.svd(Xc.T @ Yc, full_matrices=False)
        W = U @ Vt
    else:
        raise ValueError(m)
    return lambda Z: (Z - xm) @ W + ym


def ridge_loo(Xs, Yt, alpha):
    """Exact LOO predictions for ridge with unpenalised intercept (scaling fixed)."""
    n = len(Xs)
    Xc = Xs - Xs.mean(0)
    Yc = Yt - Yt.mean(0)
    K = Xc @ Xc.T
    H = K @ np.linalg.inv(K + alpha * np.eye(n))
    E = Yc - H @ Yc
    h = np.diag(H) + 1.0 / n
    return Yt - E / (1 - h)[:, None], E, np.trace(H) + 1


def scores(T, C):
    """cos(t, c_pneumonia) - cos(t, c_normal); > threshold means pneumonia."""
    Tn, Cn = unit(T), unit(C)
    S = Tn @ Cn.T
    return S[:, 1] - S[:, 0]


def _pick_alpha(Xs, Yt, C, ya, how):
    best = None
    for a in ALPHAS:
        Yl, E, df = ridge_loo(Xs, Yt, a)
        if how == "gcv":
            crit = len(Xs) * (E**2).sum() / (len(Xs) - df) ** 2
        else:  # "looauc"
            sl = scores(Yl, C)
            crit = -roc_auc_score(ya, sl) if len(set(ya)) > 1 else 0
        if best is None or crit < best[0]:
            best = (crit, a)
    return best[1]


def _threshold(cfg, Xs, Yt, C, ya, alpha, f, s):
    cal = cfg["calib"]
    t = 0.0
    if cal.startswith("loo"):
        if cfg["map"] == "ridge":
            Yl = ridge_loo(Xs, Yt, alpha)[0]
        else:  # 10-fold cross-fitted anchor predictions
            Yl = np.zeros_like(Yt)
            folds = np.arange(len(Xs)) % 10
            for k in range(10):
                tr = folds != k
                Yl[~tr] = fit_map(Xs[tr], Yt[tr], cfg, alpha)(Xs[~tr])
        sl = scores(Yl, C)
        if cal == "loo_mid":
            t = 0.5 * (np.median(sl[ya == 0]) + np.median(sl[ya == 1]))
        elif cal == "loo_bacc":
            cand = np.sort(sl)
            cand = (cand[1:] + cand[:-1]) / 2
            ba = [balanced_accuracy_score(ya, sl > c) for c in cand]
            # middle of the arg-max plateau
            best = np.flatnonzero(np.isclose(ba, max(ba)))
            t = cand[best[len(best) // 2]]
    elif cal == "insample_mid":
        si = scores(f(Xs), C)
        t = 0.5 * (np.median(si[ya == 0]) + np.median(si[ya == 1]))
    elif cal == "trans_gmm":  # TRANSDUCTIVE: uses unlabeled eval-set scores only
        from sklearn.mixture import GaussianMixture

        g = GaussianMixture(2, random_state=0).fit(s[:, None])
        grid = np.linspace(s.min(), s.max(), 2000)
        hi_c = np.argmax(g.means_.ravel())
        p = g.predict_proba(grid[:, None])[:, hi_c]
        lo, hi_ = sorted(g.means_.ravel())
        m = (grid >= lo) & (grid <= hi_)
        t = grid[m][np.argmin(np.abs(p[m] - 0.5))] if m.any() else 0.0
    return t


def run_seed(cfg, seed, eval_on="cv", return_parts=False):
    """One anchor draw: fit on the anchors, score ``eval_on`` ("cv": other train images; "test")."""
    rng = np.random.default_rng(seed)
    anchors = select(cfg, rng, seed)
    Y, proto_pool, R = targets(cfg, anchors, rng)
    X = IMG[anchors]
    sx = prep_fit(X, cfg["src_pre"])
    Xs = sx(X)
    sy = prep_fit(Y, cfg["tgt_pre"])
    Yt = sy(Y)
    C = sy(class_emb(cfg, proto_pool, R))
    alpha = cfg["alpha"]
    ya = LAB[anchors]
    if cfg["map"] == "ridge" and alpha in ("gcv", "looauc"):
        alpha = _pick_alpha(Xs, Yt, C, ya, alpha)
    f = fit_map(Xs, Yt, cfg, alpha)
    ev = np.setdiff1d(TRAIN, anchors) if eval_on == "cv" else TEST
    if eval_on == "cv" and cfg.get("cv_prior") is not None:
        # prior-shift CV: subsample held-out train to a given normal fraction q
        e0, e1 = ev[LAB[ev] == 0], ev[LAB[ev] == 1]
        q = cfg["cv_prior"]
        n1 = len(e1)
        n0 = round(n1 * q / (1 - q))
        if n0 > len(e0):
            n0 = len(e0)
            n1 = round(n0 * (1 - q) / q)
        ev = np.concatenate([rng.choice(e0, n0, replace=False), rng.choice(e1, n1, replace=False)])
    Xe = IMG[ev]
    if eval_on == "cv" and cfg.get("pert"):  # train-only shift proxy: perturbed held-out images
        Xe = PERT[cfg["pert"]][[TROW[g] for g in ev]].astype(np.float64)
    if cfg.get("trans_src"):  # TRANSDUCTIVE: re-standardise eval images with eval-set statistics
        sxe = prep_fit(Xe, cfg["src_pre"])
        s = scores(f(sxe(Xe)), C)
    else:
        s = scores(f(sx(Xe)), C)
    t = _threshold(cfg, Xs, Yt, C, ya, alpha, f, s)
    y = LAB[ev]
    res = dict(bacc=balanced_accuracy_score(y, s > t), auc=roc_auc_score(y, s), alpha=alpha, t=t)
    if return_parts:
        res.update(s=s, y=y)
    return res


def evaluate(cfg=None, cv_seeds=CV_SEEDS, test_seeds=TEST_SEEDS, **kw):
    """Mean and std of bacc/AUROC over train-CV draws and test draws (``None`` skips one)."""
    c = dict(DEFAULT)
    c.update(cfg or {})
    c.update(kw)
    out = {}
    for name, seeds, mode in (("cv", cv_seeds, "cv"), ("test", test_seeds, "test")):
        if seeds is None:
            continue
        r = [run_seed(c, s, mode) for s in seeds]
        out[name] = {
            k: (np.mean([x[k] for x in r]), np.std([x[k] for x in r])) for k in ("bacc", "auc")
        }
        out[name]["alpha"] = [x["alpha"] for x in r]
    return out


def fmt(o):
    s = []
    for name in ("cv", "test"):
        if name in o:
            b, a = o[name]["bacc"], o[name]["auc"]
            s.append(f"{name}: bacc {b[0]:.3f}±{b[1]:.3f} auc {a[0]:.3f}±{a[1]:.3f}")
    return " | ".join(s)
