"""Crack centrelines from a mask: skeleton, junctions, branches as ordered smooth polylines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import convolve, gaussian_filter1d
from scipy.ndimage import label as nd_label
from skimage.morphology import skeletonize as _sk_skeletonize

__all__ = ["CentrelineGraph", "centreline_graph", "smooth_polyline"]


def skeletonize(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """One-pixel-wide skeleton (scikit-image)."""
    fn: Any = _sk_skeletonize
    return np.asarray(fn(mask), np.bool_)


_RING = [(-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1)]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CentrelineGraph:
    """Branches of a crack skeleton.

    Attributes
    ----------
    branches : tuple of numpy.ndarray
        Ordered ``(N, 2)`` ``(x, y)`` pixel chains (junction centres appended at their ends).
    junctions : numpy.ndarray
        ``(J, 2)`` ``(x, y)`` junction centres, px.
    free_ends : tuple of tuple of bool
        For each branch, whether its start / end is a free tip (not a junction).
    n_loops : int
        Number of closed cells (holes) in the mask: map cracking has many.
    """

    branches: tuple[NDArray[np.float64], ...]
    junctions: NDArray[np.float64]
    free_ends: tuple[tuple[bool, bool], ...]
    n_loops: int

    def __post_init__(self) -> None:
        if len(self.branches) != len(self.free_ends):
            raise ValueError("one free_ends pair per branch is required")


def _crossing_number(skel: NDArray[np.bool_]) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Neighbour count and 0->1 transitions around each pixel's 8-ring."""
    s = skel.astype(np.int32)
    padded = np.pad(s, 1)
    h, w = s.shape
    ring = [padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in _RING]
    crossings = np.zeros_like(s)
    for k in range(8):
        crossings += (ring[k] == 0) & (ring[(k + 1) % 8] == 1)
    neighbours = convolve(s, np.ones((3, 3), np.int32), mode="constant") - s
    return neighbours * s, crossings * s


def _order_component(coords: NDArray[np.int64]) -> NDArray[np.int64]:
    """Order the pixels of a thin open (or closed) chain by walking from one end."""
    index = {(int(y), int(x)): i for i, (y, x) in enumerate(coords)}
    nbrs: list[list[int]] = [[] for _ in range(len(coords))]
    for i, (y, x) in enumerate(coords):
        for dy, dx in _RING:
            j = index.get((int(y) + dy, int(x) + dx))
            if j is not None:
                nbrs[i].append(j)
    degrees = np.array([len(n) for n in nbrs])
    start = int(np.argmin(degrees))
    order = [start]
    seen = {start}
    cur = start
    while True:
        cands = [j for j in nbrs[cur] if j not in seen]
        if not cands:
            break
        cy, cx = coords[cur]
        # prefer 4-neighbours: they keep the walk on the chain at staircase corners
        cands.sort(key=lambda j: abs(int(coords[j][0]) - cy) + abs(int(coords[j][1]) - cx))
        cur = cands[0]
        seen.add(cur)
        order.append(cur)
    return np.asarray(coords[np.array(order)], np.int64)


def smooth_polyline(points: NDArray[np.float64], sigma_px: float) -> NDArray[np.float64]:
    """Gaussian-smooth an ordered polyline, keeping its end points, resampled every 1 px.

    Parameters
    ----------
    points : numpy.ndarray
        ``(N, 2)`` ordered points, px.
    sigma_px : float
        Smoothing length along the curve, px.

    Returns
    -------
    numpy.ndarray
        ``(M, 2)`` smoothed points about 1 px apart.
    """
    pts = np.asarray(points, np.float64)
    if len(pts) < 3:
        return pts
    seg = np.hypot(*np.diff(pts, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = float(s[-1])
    if total < 1e-9:
        return pts[:1]
    n = max(int(np.ceil(total)) + 1, 2)
    si = np.linspace(0.0, total, n)
    res = np.column_stack([np.interp(si, s, pts[:, 0]), np.interp(si, s, pts[:, 1])])
    if sigma_px > 0 and n > 3:
        pad = min(int(3 * sigma_px) + 1, n - 1)
        # odd reflection about the end points keeps them fixed and the end tangent unbiased
        head = 2 * res[0] - res[pad:0:-1]
        tail = 2 * res[-1] - res[-2 : -pad - 2 : -1]
        ext = np.vstack([head, res, tail])
        ext = gaussian_filter1d(ext, sigma_px, axis=0, mode="nearest")
        res = ext[pad : pad + n]
    return np.asarray(res, np.float64)


def centreline_graph(mask: NDArray[np.bool_], *, prune_px: float = 0.0) -> CentrelineGraph:
    """Skeletonise a crack mask and split the skeleton into branches between junctions/tips.

    Parameters
    ----------
    mask : numpy.ndarray
        ``(H, W)`` bool mask of one crack (or a crack network).
    prune_px : float
        Drop free-ended spurs shorter than this (in addition to twice the local half-width).

    Returns
    -------
    CentrelineGraph
    """
    m = np.asarray(mask, bool)
    skel = skeletonize(m)
    dist = np.asarray(
        cv2.distanceTransform(np.pad(m.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1], np.float32
    )
    n_loops = _count_holes(m)
    for _ in range(3):
        graph, spur_removed = _split(skel, dist, prune_px)
        if not spur_removed.any():
            break
        skel = skeletonize(skel & ~spur_removed)
    jr = np.array(
        [
            float(dist[min(round(y), m.shape[0] - 1), min(round(x), m.shape[1] - 1)])
            for x, y in graph[1]
        ]
    )
    branches, free = _join_straightest(graph[0], graph[2], graph[1], junction_reach_px=jr + 6.0)
    return CentrelineGraph(branches=branches, junctions=graph[1], free_ends=free, n_loops=n_loops)


def _leaving(pts: NDArray[np.float64], at_start: bool, reach_px: float) -> NDArray[np.float64]:
    """Unit direction in which a branch leaves its start (or end) point, over ``reach_px``."""
    p = pts if at_start else pts[::-1]
    d = np.hypot(*(p - p[0]).T)
    far = np.flatnonzero(d >= reach_px)
    q = p[far[0]] if len(far) else p[-1]
    v = q - p[0]
    n = float(np.hypot(*v))
    return np.asarray(v / n if n > 0 else v, np.float64)


def _join_straightest(
    branches: tuple[NDArray[np.float64], ...],
    free: tuple[tuple[bool, bool], ...],
    junctions: NDArray[np.float64],
    *,
    max_turn_deg: float = 40.0,
    reach_px: float = 8.0,
    cluster_px: float = 10.0,
    junction_reach_px: NDArray[np.float64] | None = None,
) -> tuple[tuple[NDArray[np.float64], ...], tuple[tuple[bool, bool], ...]]:
    """Join branches through each junction along the straightest continuation.

    At a junction the pair of branch ends whose directions continue each other best (turning by
    less than ``max_turn_deg``) becomes one branch, then the next best pair of the rest: a crack
    that crosses another stays one branch instead of two pieces of the other's network. Junctions
    closer than ``cluster_px`` are one crossing (an oblique crossing skeletonises into two
    junctions joined by a short stub, which is dropped). A free tip within
    ``junction_reach_px`` of a junction (a crack whose mask breaks just at the crossing) takes
    part in the pairing too; joined, the gap is bridged by a straight segment.
    """
    if len(junctions) == 0 or len(branches) < 2:
        return branches, free
    # one id per crossing: junctions within cluster_px of each other (union-find)
    parent = list(range(len(junctions)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(junctions)):
        for k in range(i + 1, len(junctions)):
            if float(np.hypot(*(junctions[i] - junctions[k]))) < cluster_px:
                parent[root(i)] = root(k)

    def crossing(p: NDArray[np.float64]) -> int:
        return root(int(np.argmin(np.hypot(*(junctions - p).T))))

    keep = []
    for b, (pts, (f0, f1)) in enumerate(zip(branches, free, strict=True)):
        stub = not f0 and not f1 and crossing(pts[0]) == crossing(pts[-1])
        if stub and float(np.hypot(*np.diff(pts, axis=0).T).sum()) < 1.5 * cluster_px:
            continue
        keep.append(b)
    if len(keep) < len(branches):
        branches = tuple(branches[b] for b in keep)
        free = tuple(free[b] for b in keep)
    # ends at each junction: (branch, at_start)
    ends: dict[int, list[tuple[int, bool]]] = {}
    for b, (pts, (f0, f1)) in enumerate(zip(branches, free, strict=True)):
        for at_start, is_free in ((True, f0), (False, f1)):
            p = pts[0] if at_start else pts[-1]
            if is_free:
                if junction_reach_px is None:
                    continue
                d = np.hypot(*(junctions - p).T)
                j = int(np.argmin(d))
                if d[j] > junction_reach_px[j] or len(pts) < 2:
                    continue
                ends.setdefault(root(j), []).append((b, at_start))
                continue
            ends.setdefault(crossing(p), []).append((b, at_start))
    link: dict[tuple[int, bool], tuple[int, bool]] = {}
    cos_max = np.cos(np.radians(180.0 - max_turn_deg))
    for members in ends.values():
        dirs = [_leaving(branches[b], s, reach_px) for b, s in members]
        pairs = []
        for i in range(len(members)):
            for k in range(i + 1, len(members)):
                if members[i][0] == members[k][0]:
                    continue  # a loop back onto itself
                c = float(np.dot(dirs[i], dirs[k]))
                if c <= cos_max:
                    pairs.append((c, i, k))
        used: set[int] = set()
        for _, i, k in sorted(pairs):
            if i in used or k in used:
                continue
            used.update((i, k))
            link[members[i]] = members[k]
            link[members[k]] = members[i]
    if not link:
        return tuple(branches), tuple(free)
    out: list[NDArray[np.float64]] = []
    out_free: list[tuple[bool, bool]] = []
    seen: set[int] = set()

    def walk(b: int, enter_start: bool) -> tuple[list[NDArray[np.float64]], bool]:
        """Follow the chain from branch ``b`` entered at its start (or end)."""
        parts: list[NDArray[np.float64]] = []
        cur, entered_start = b, enter_start
        while True:
            seen.add(cur)
            pts = branches[cur] if entered_start else branches[cur][::-1]
            parts.append(pts if not parts else pts[1:])
            exit_end = (cur, not entered_start)
            nxt = link.get(exit_end)
            if nxt is None or nxt[0] in seen:
                f = free[cur][1] if entered_start else free[cur][0]
                return parts, f
            cur, entered_start = nxt[0], nxt[1]

    for b in range(len(branches)):
        if b in seen:
            continue
        # start the chain at an unlinked end so the walk covers it whole
        start = b
        at_start = True
        prev = link.get((b, True))
        guard = 0
        while prev is not None and prev[0] not in seen and guard < len(branches):
            # step backwards: prev is (branch, end) joined to our start
            start, at_start = prev[0], not prev[1]
            prev = link.get((start, at_start))
            guard += 1
            if start == b:
                break
        first_free = free[start][0] if at_start else free[start][1]
        parts, last_free = walk(start, at_start)
        out.append(np.vstack(parts))
        out_free.append((first_free, last_free))
    return tuple(out), tuple(out_free)


def _count_holes(m: NDArray[np.bool_]) -> int:
    background, n_bg = nd_label(~m)
    if n_bg == 0:
        return 0
    border = np.unique(
        np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])
    )
    holes = set(range(1, n_bg + 1)) - {int(b) for b in border}
    # ignore pin-holes of a few pixels (mask noise, not cells of a crack network)
    sizes = np.bincount(background.ravel())
    return sum(1 for h in holes if sizes[h] >= 20)


def _split(
    skel: NDArray[np.bool_], dist: NDArray[np.float32], prune_px: float
) -> tuple[
    tuple[tuple[NDArray[np.float64], ...], NDArray[np.float64], tuple[tuple[bool, bool], ...]],
    NDArray[np.bool_],
]:
    _, crossings = _crossing_number(skel)
    junction_px = skel & (crossings >= 3)
    jlab, n_j = nd_label(junction_px, structure=np.ones((3, 3)))
    j_centres = np.zeros((n_j, 2))
    if n_j:
        ys, xs = np.nonzero(jlab)
        for k in range(1, n_j + 1):
            sel = jlab[ys, xs] == k
            j_centres[k - 1] = [xs[sel].mean(), ys[sel].mean()]
    # grow junction zones by one pixel so that branches separate cleanly
    j_zone = cv2.dilate(junction_px.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    zone_lab = cv2.dilate(jlab.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int32)
    rest = skel & ~j_zone
    blab, n_b = nd_label(rest, structure=np.ones((3, 3)))
    branches: list[NDArray[np.float64]] = []
    free: list[tuple[bool, bool]] = []
    spurs = np.zeros_like(skel)
    h, w = skel.shape
    for k in range(1, n_b + 1):
        ys, xs = np.nonzero(blab == k)
        chain = _order_component(np.column_stack([ys, xs]))
        pts = chain[:, ::-1].astype(np.float64)
        ends: list[bool] = []
        for end_idx in (0, -1):
            y, x = int(chain[end_idx][0]), int(chain[end_idx][1])
            y0, y1, x0, x1 = max(y - 2, 0), min(y + 3, h), max(x - 2, 0), min(x + 3, w)
            touching = np.unique(zone_lab[y0:y1, x0:x1][j_zone[y0:y1, x0:x1]])
            touching = touching[touching > 0]
            if len(touching):
                centre = j_centres[int(touching[0]) - 1]
                pts = np.vstack([centre, pts]) if end_idx == 0 else np.vstack([pts, centre])
                ends.append(False)
            else:
                ends.append(True)
        length = float(np.hypot(*np.diff(pts, axis=0).T).sum()) if len(pts) > 1 else 0.0
        if n_j and (ends[0] != ends[1]):
            j_end = pts[0] if not ends[0] else pts[-1]
            local_half = float(dist[round(j_end[1]), round(j_end[0])])
            if length < max(2.5 * local_half, prune_px, 3.0):
                spurs[ys, xs] = True
                continue
        if len(pts) >= 2:
            branches.append(pts)
            free.append((ends[0], ends[1]))
    if not branches and skel.any():
        ys, xs = np.nonzero(skel)
        pts = np.column_stack([xs, ys]).astype(np.float64)
        branches.append(pts[:1].repeat(2, axis=0))
        free.append((True, True))
    return (tuple(branches), j_centres, tuple(free)), spurs
