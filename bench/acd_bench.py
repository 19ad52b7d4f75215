"""ACD routing benchmark: figures printed, nothing asserted.

A contact center of 5,000 agents over 50 queues with skills (languages and products,
levels 1-5), penalties, a mix of strategies and relaxation steps, kept at about 2,000
waiting callers. Measured, with ``time.perf_counter_ns``:

- decision: an agent on a call hangs up and ends wrap-up (it becomes free), then
  ``next_assignments`` decides; this is the common event. The offer it makes is then
  reserved and answered, and a new caller arrives, so the load stays the same;
- full pass: ``next_assignments`` on a periodic tick with nothing changed, and after a
  burst of agents becomes free at once (a team back from a break), with the routing
  memos warm or dropped (what a restart or a configuration reload costs);
- transitions: the state changes around a decision, for scale.

``--direct N`` adds calls targeted at one agent (numbers routed ``agent:N``): N agents
on a call get a direct line with a caller waiting for them (each takes it when free),
and N more direct lines wait for agents who are not logged in (they never route), so
the figures show what targeted calls cost the routing core.

Run: ``.venv/bin/python bench/acd_bench.py`` (``--decisions`` to change the sample).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time

from targets import check

from ccpbx.acd import (
    AcdState,
    AgentMode,
    AgentProfile,
    AgentState,
    Membership,
    QueueConfig,
    RelaxationStep,
    Strategy,
    next_assignments,
)

LANGUAGES = ["en", "fr", "de", "es", "it", "nl"]
PRODUCTS = ["billing", "tech", "sales", "retention", "mobile", "internet"]
STRATEGIES = [
    *[Strategy.LONGEST_IDLE] * 5,
    Strategy.FEWEST_CALLS,
    Strategy.ROUND_ROBIN,
    Strategy.RANDOM,
    Strategy.LINEAR,
    Strategy.RING_ALL,
]


def build_queues(n: int) -> list[QueueConfig]:
    queues = []
    for i in range(n):
        relax: tuple[RelaxationStep, ...] = ()
        if i % 2 == 0:
            relax = (
                RelaxationStep(30.0, min_level=1),
                RelaxationStep(90.0, skill=LANGUAGES[i % len(LANGUAGES)], optional=True),
            )
        queues.append(
            QueueConfig(f"q{i:02d}", strategy=STRATEGIES[i % len(STRATEGIES)], relaxation=relax)
        )
    return queues


def queue_skills(i: int) -> tuple[str, str]:
    return PRODUCTS[i % len(PRODUCTS)], LANGUAGES[(i // len(PRODUCTS)) % len(LANGUAGES)]


def build_agent(rng: random.Random, j: int, n_queues: int) -> AgentProfile:
    skills = {lang: rng.randint(1, 5) for lang in rng.sample(LANGUAGES, rng.randint(1, 2))}
    skills |= {prod: rng.randint(1, 5) for prod in rng.sample(PRODUCTS, rng.randint(2, 3))}
    served = [i for i in range(n_queues) if queue_skills(i)[0] in skills]
    chosen = rng.sample(served, min(len(served), rng.randint(3, 6)))
    queues = {
        f"q{i:02d}": Membership(penalty=rng.choice((0, 0, 0, 1)), position=rng.randint(0, 99))
        for i in chosen
    }
    mode = AgentMode.PERSISTENT if rng.random() < 0.3 else AgentMode.RING
    return AgentProfile(f"agent{j:05d}", f"Agent {j}", skills, mode, queues)


def new_call(rng: random.Random, state: AcdState, seq: int, now: float, n_queues: int) -> None:
    i = rng.randrange(n_queues)
    product, language = queue_skills(i)
    required = {product: rng.randint(1, 3)}
    if rng.random() < 0.5:
        required[language] = rng.randint(1, 3)
    roll = rng.random()
    priority = 2 if roll < 0.02 else 1 if roll < 0.12 else 0
    state.enqueue(f"call{seq:07d}", f"q{i:02d}", now, priority=priority, required=required)


def apply(state: AcdState, assignments: list, now: float) -> None:  # type: ignore[type-arg]
    for a in assignments:
        state.reserve(a.call_id, a.agent_ids, now)
        state.answered(a.call_id, a.agent_ids[0], now)


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0


def show(title: str, values_ns: list[int]) -> None:
    print(
        f"{title:<44} n={len(values_ns):>5}  p50={pct(values_ns, 0.50):8.1f} us  "
        f"p99={pct(values_ns, 0.99):8.1f} us  max={max(values_ns) / 1000:8.1f} us  "
        f"mean={statistics.fmean(values_ns) / 1000:7.1f} us"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--queues", type=int, default=50)
    parser.add_argument("--waiting", type=int, default=2000)
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--passes", type=int, default=100)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--direct", type=int, default=0, help="direct lines with a targeted caller (see above)"
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="move the loaded center out of the cyclic GC's reach (gc.freeze) before measuring",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    state = AcdState(build_queues(args.queues), rng=random.Random(args.seed))
    started = time.perf_counter()
    for j in range(args.agents):
        state.login(build_agent(rng, j, args.queues), rng.uniform(0.0, 60.0))
    now, seq = 100.0, 0
    first_pass_ns = 0
    # Fill the center: route arriving callers until the backlog holds.
    while sum(state.waiting_count(q) for q in state.queues) < args.waiting:
        for _ in range(500):
            seq += 1
            new_call(rng, state, seq, now, args.queues)
            now += 0.01
        t0 = time.perf_counter_ns()
        found = next_assignments(state, now)
        first_pass_ns = max(first_pass_ns, time.perf_counter_ns() - t0)
        apply(state, found, now)
    on_call = [a.id for a in state.agents.values() if a.state is AgentState.ON_CALL]
    available = sum(1 for a in state.agents.values() if a.state is AgentState.AVAILABLE)
    waiting = sum(state.waiting_count(q) for q in state.queues)
    print(
        f"setup: {args.agents} agents, {args.queues} queues, {waiting} waiting, "
        f"{len(on_call)} on call, {available} available (no waiting call fits them), "
        f"{time.perf_counter() - started:.1f} s"
    )
    print(f"largest fill pass (500 new callers onto free agents): {first_pass_ns / 1e3:.0f} us")
    for k, agent_id in enumerate(on_call[: args.direct]):
        for owner in (agent_id, f"absent{k:05d}"):
            state.configure_queue(QueueConfig(f"agent-{owner}", agent=owner))
            seq += 1
            state.enqueue(f"call{seq:07d}", f"agent-{owner}", now)
    if args.direct:
        print(f"direct lines: {2 * args.direct}, half of them for agents not logged in")
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
        print(f"gc.freeze(): {gc.get_freeze_count()} objects frozen")

    decision_ns: list[int] = []
    decision_cpu_ns: list[int] = []
    free_ns: list[int] = []
    apply_ns: list[int] = []
    offers = 0
    for _ in range(args.decisions):
        now += 0.05
        agent_id = rng.choice(on_call)
        call_id = state.agent(agent_id).call_id
        assert call_id is not None
        t0 = time.perf_counter_ns()
        state.hangup(call_id, now)
        if state.agent(agent_id).state is AgentState.WRAP_UP:
            state.wrapup_done(agent_id, now)
        c1 = time.thread_time_ns()
        t1 = time.perf_counter_ns()
        found = next_assignments(state, now)
        t2 = time.perf_counter_ns()
        decision_cpu_ns.append(time.thread_time_ns() - c1)
        apply(state, found, now)
        t3 = time.perf_counter_ns()
        free_ns.append(t1 - t0)
        decision_ns.append(t2 - t1)
        apply_ns.append(t3 - t2)
        offers += len(found)
        spot = on_call.index(agent_id) if on_call[-1] != agent_id else len(on_call) - 1
        on_call[spot] = on_call[-1]
        on_call.pop()
        on_call.extend(a.agent_ids[0] for a in found)
        seq += 1
        new_call(rng, state, seq, now, args.queues)
    waiting = sum(state.waiting_count(q) for q in state.queues)
    print(f"decisions: {args.decisions}, offers made: {offers}, waiting at the end: {waiting}")
    show("decision (agent becomes free -> offers)", decision_ns)
    check(
        f"ACD routing decision p99 ({args.agents} agents, {waiting} waiting)",
        pct(decision_ns, 0.99) / 1000,
        "<",
        1,
        "ms",
    )
    show("  same, CPU time of this thread", decision_cpu_ns)
    show("  hangup + wrapup_done (agent freed)", free_ns)
    show("  reserve + answered (offers applied)", apply_ns)

    tick_ns = []
    for _ in range(args.passes):
        t0 = time.perf_counter_ns()
        next_assignments(state, now)
        tick_ns.append(time.perf_counter_ns() - t0)
    show("full pass, nothing changed (periodic tick)", tick_ns)

    # Rebalancing: a burst of agents becomes free at once (a team back from a break),
    # then one pass assigns them all; every other pass starts with the memos dropped.
    burst: dict[bool, tuple[list[int], list[int], list[int]]] = {
        False: ([], [], []),
        True: ([], [], []),
    }
    for k in range(args.passes):
        now += 1.0
        freed = rng.sample(on_call, args.burst)
        for agent_id in freed:
            call_id = state.agent(agent_id).call_id
            assert call_id is not None
            state.hangup(call_id, now)
            if state.agent(agent_id).state is AgentState.WRAP_UP:
                state.wrapup_done(agent_id, now)
        cold = k % 2 == 1
        if cold:
            for qi in state._queues.values():
                qi.forget_memos()
        c0 = time.thread_time_ns()
        t0 = time.perf_counter_ns()
        found = next_assignments(state, now)
        wall, cpu, sizes = burst[cold]
        wall.append(time.perf_counter_ns() - t0)
        cpu.append(time.thread_time_ns() - c0)
        sizes.append(len(found))
        apply(state, found, now)
        freed_set = set(freed)
        on_call = [a for a in on_call if a not in freed_set]
        on_call.extend(a.agent_ids[0] for a in found)
        for _ in range(len(found)):
            seq += 1
            new_call(rng, state, seq, now, args.queues)
    for cold, title in ((False, "memos warm"), (True, "memos dropped")):
        wall, cpu, sizes = burst[cold]
        show(f"full pass, {args.burst} agents freed at once, {title}", wall)
        show("  same, CPU time of this thread", cpu)
        print(f"  offers per pass: mean {statistics.fmean(sizes):.0f}")
    print(f"total run: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
