"""Peer groups: entities clustered by what they do (scikit-learn).

Each entity is a bag of behaviour tokens (for principals "service:api" with their call counts, for hosts
executables, listening ports and talk partners). Tokens are TF-IDF weighted (a token every entity has says
nothing), rows L2-normalised, and clustered by average-linkage agglomerative clustering on cosine distance;
the number of groups is the one with the best silhouette. Entities farther than `max_distance` from every
other entity stay alone rather than being forced into a group whose behaviour would then excuse theirs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import silhouette_score
from sklearn.metrics.pairwise import cosine_distances
from sklearn.preprocessing import normalize


def _matrix(vectors: Mapping[str, Mapping[str, float]]) -> tuple[list[str], Any, DictVectorizer]:
    """Rows: log(1 + count) × idf, L2-normalised, with idf = ln((n + 1) / df) + 0.5. A token every entity has
    (sshd, cron, GetCallerIdentity) weighs ~0.5 against ~2.7 for a rare one: shared plumbing must not make a
    batch machine look like a web server (sklearn's smoothed idf keeps it at 1, and did), yet one unusual
    call must not tear a principal away from its peers (plain ln(n / df) did)."""
    names = sorted(vectors)
    dv = DictVectorizer(sparse=True)
    counts = dv.fit_transform([{k: math.log1p(v) for k, v in vectors[n].items()} for n in names])
    df = np.asarray((counts > 0).sum(axis=0)).ravel()
    idf = np.log((len(names) + 1) / np.maximum(df, 1)) + 0.5
    x = normalize(counts.multiply(idf.reshape(1, -1)).tocsr(), norm="l2")
    return names, x, dv


def cluster(vectors: Mapping[str, Mapping[str, float]], max_distance: float = 0.6) -> dict[str, int]:
    """Entity name -> group number. Deterministic for the same input.

    Average-linkage agglomerative clustering cut where groups would merge at a mean cosine distance above
    `max_distance`. A fixed cut keeps groups stable from one hourly/daily recluster to the next, which a
    per-run k chosen by silhouette did not (it flipped between near-equal scores); the silhouette of the
    result is reported by `quality()` so the cut can be tuned.
    """
    names = sorted(n for n in vectors if vectors[n])
    if not names:
        return {}
    if len(names) == 1:
        return {names[0]: 0}
    names, x, _ = _matrix({n: vectors[n] for n in names})
    dist = cosine_distances(x)
    np.clip(dist, 0.0, 2.0, out=dist)
    model = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=max_distance
    )
    labels = model.fit_predict(dist)
    return _renumber({name: int(labels[i]) for i, name in enumerate(names)})


def quality(vectors: Mapping[str, Mapping[str, float]], groups: Mapping[str, int]) -> float | None:
    """Silhouette (cosine) of a grouping, or None when it is undefined (one group, or all singletons)."""
    names = sorted(n for n in vectors if vectors[n] and n in groups)
    labels = [groups[n] for n in names]
    if len(set(labels)) < 2 or len(set(labels)) >= len(names):
        return None
    names, x, _ = _matrix({n: vectors[n] for n in names})
    return float(silhouette_score(cosine_distances(x), labels, metric="precomputed"))


def _renumber(groups: dict[str, int]) -> dict[str, int]:
    """Stable group numbers: ordered by the group's first member name."""
    firsts: dict[int, str] = {}
    for name in sorted(groups):
        firsts.setdefault(groups[name], name)
    order = {g: i for i, g in enumerate(sorted(firsts, key=lambda g: firsts[g]))}
    return {name: order[g] for name, g in groups.items()}


def nearest(
    vector: Mapping[str, float], vectors: Mapping[str, Mapping[str, float]], groups: Mapping[str, int]
) -> tuple[int | None, float]:
    """The group whose members are on average most similar to `vector` (cosine similarity), and that similarity."""
    known = [n for n in sorted(vectors) if n in groups and vectors[n]]
    if not vector or not known:
        return None, 0.0
    names, x, _ = _matrix({**{n: vectors[n] for n in known}, "\x00new": vector})
    idx = names.index("\x00new")
    sims = 1.0 - cosine_distances(x[idx], x).ravel()
    per_group: dict[int, list[float]] = {}
    for i, name in enumerate(names):
        if i != idx:
            per_group.setdefault(groups[name], []).append(float(sims[i]))
    best_group, best_sim = None, 0.0
    for g in sorted(per_group):
        sim = max(per_group[g])
        if sim > best_sim:
            best_group, best_sim = g, sim
    return best_group, best_sim
