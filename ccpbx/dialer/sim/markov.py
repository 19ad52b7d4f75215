"""Exact Markov model of predictive dialing, for reference figures.

Exponential times: N agents, each busy one spends an exponential handle time of mean
``h`` (talk + wrap); each call in flight resolves after an exponential time of mean
``r``: a live answer with probability ``p`` (connected if an agent is free, otherwise
abandoned at once), else a failure. The pacer sees (busy agents b, calls in flight c)
and after every event may place calls, raising c. State space: b in 0..N, c in 0..cmax.

:func:`evaluate` gives occupancy and abandon rate of a fixed threshold policy (calls in
flight topped up to ``target(b)``); :func:`optimum` solves the constrained problem
(maximal occupancy with abandon rate <= alpha) by relative value iteration on the
Lagrangian and bisection on the multiplier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Model:
    """Parameters of the Markov dialing model."""

    agents: int
    p: float
    r: float
    h: float
    cmax: int


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """Long-run occupancy (busy share of agents) and abandon rate of a policy."""

    occupancy: float
    abandon_rate: float
    targets: tuple[int, ...]


def evaluate(m: Model, target: Callable[[int], int], *, iters: int = 200_000) -> PolicyResult:
    """Stationary occupancy and abandon rate when calls are topped up to ``target(b)``.

    The post-decision chain lives on the states with c >= target(b) reached from the
    policy; solved by Gauss-Seidel power iteration on the uniformized chain.
    """
    n, cmax = m.agents, m.cmax
    tgt = [min(cmax, max(0, target(b))) for b in range(n + 1)]
    mu, nu = 1.0 / m.h, 1.0 / m.r
    # The reachable post-decision states are exactly (b, tgt[b]) when targets are
    # monotone non-increasing in b; in general c can exceed the target, so keep c.
    pi = [[0.0] * (cmax + 1) for _ in range(n + 1)]
    pi[0][tgt[0]] = 1.0
    lam = n * mu + cmax * nu
    for it in range(iters):
        new = [[0.0] * (cmax + 1) for _ in range(n + 1)]
        for b in range(n + 1):
            row = pi[b]
            for c in range(cmax + 1):
                w = row[c]
                if w == 0.0:
                    continue
                stay = lam
                if b:
                    rate = b * mu
                    stay -= rate
                    c2 = max(c, tgt[b - 1])
                    new[b - 1][c2] += w * rate / lam
                if c:
                    live = c * nu * m.p
                    fail = c * nu - live
                    stay -= c * nu
                    b2 = b + 1 if b < n else n
                    new[b2][max(c - 1, tgt[b2])] += w * live / lam
                    new[b][max(c - 1, tgt[b])] += w * fail / lam
                new[b][c] += w * stay / lam
        delta = sum(abs(new[b][c] - pi[b][c]) for b in range(n + 1) for c in range(cmax + 1))
        pi = new
        if delta < 1e-12 and it > 10:
            break
    occ = sum(b * pi[b][c] for b in range(n + 1) for c in range(cmax + 1)) / n
    live_flux = sum(c * pi[b][c] for b in range(n + 1) for c in range(cmax + 1))
    ab_flux = sum(c * pi[n][c] for c in range(cmax + 1))
    return PolicyResult(occ, ab_flux / live_flux if live_flux else 0.0, tuple(tgt))


def _lagrangian_policy(m: Model, lam_mult: float, alpha: float, *, iters: int) -> list[int]:
    """Threshold targets c*(b) optimal for occupancy - lam * (abandon - alpha * live)."""
    n, cmax = m.agents, m.cmax
    mu, nu, p = 1.0 / m.h, 1.0 / m.r, m.p
    unif = n * mu + cmax * nu
    w = [[0.0] * (cmax + 1) for _ in range(n + 1)]  # value before the decision
    for _ in range(iters):
        # post-decision value: best c' >= c (suffix maximum)
        v = []
        for b in range(n + 1):
            row = w[b]
            best = [0.0] * (cmax + 1)
            run = row[cmax]
            for c in range(cmax, -1, -1):
                run = max(run, row[c])
                best[c] = run
            v.append(best)
        new = [[0.0] * (cmax + 1) for _ in range(n + 1)]
        for b in range(n + 1):
            for c in range(cmax + 1):
                live = c * nu * p
                reward = b / n + lam_mult * (alpha * live - (live if b == n else 0.0))
                total = reward
                stay = unif
                if b:
                    total += b * mu * v[b - 1][c]
                    stay -= b * mu
                if c:
                    b2 = b + 1 if b < n else n
                    total += live * v[b2][c - 1] + (c * nu - live) * v[b][c - 1]
                    stay -= c * nu
                total += stay * v[b][c]
                new[b][c] = total / unif
        ref = new[0][0]
        w = [[x - ref for x in row] for row in new]
    targets = []
    for b in range(n + 1):
        row = w[b]
        best_c = 0
        for c in range(cmax + 1):
            if row[c] > row[best_c]:
                best_c = c
        targets.append(best_c)
    return targets


def optimum(
    m: Model, alpha: float, *, iters: int = 3000, steps: int = 18
) -> tuple[PolicyResult, float]:
    """Best occupancy of a deterministic threshold policy with abandon rate <= alpha.

    Returns the policy result and the Lagrange multiplier found by bisection.
    """
    lo, hi = 0.0, 200.0
    best: PolicyResult | None = None
    best_mult = hi
    for _ in range(steps):
        mid = (lo + hi) / 2
        tg = _lagrangian_policy(m, mid, alpha, iters=iters)
        res = evaluate(m, tg.__getitem__)
        if res.abandon_rate <= alpha:
            hi = mid
            if best is None or res.occupancy > best.occupancy:
                best, best_mult = res, mid
        else:
            lo = mid
    if best is None:
        raise ValueError("no policy meets the abandon constraint within the search range")
    return best, best_mult
