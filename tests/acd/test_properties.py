"""Random sequences of ACD operations against invariants and the brute-force reference."""

from __future__ import annotations

import random
from collections import Counter

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ccpbx.acd import (
    AcdEvent,
    AcdState,
    AcdStats,
    AgentMode,
    AgentProfile,
    AgentState,
    CallStatus,
    IllegalTransition,
    Membership,
    OverflowKind,
    OverflowTarget,
    QueueConfig,
    RelaxationStep,
    Strategy,
    next_assignments,
)

from .reference import qualifies, reference_assignments, requirement_at, serves

QUEUES = ("q0", "q1", "q2")
DIRECT = {"d0": "ag0", "d1": "ag1", "d2": "ag2"}
"""Direct lines (queue -> its one agent): d0 and d1 exist from the start, d2 is opened
by a rule at any time (before or after its agent logs in)."""
SKILLS = ("a", "b", "c")
AGENTS = tuple(f"ag{i}" for i in range(7))

skill_maps = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), max_size=3)
memberships = st.dictionaries(
    st.sampled_from(QUEUES),
    st.builds(Membership, penalty=st.integers(0, 1), position=st.integers(0, 2)),
    min_size=1,
    max_size=3,
)
relaxations = st.sampled_from(
    [
        (),
        (RelaxationStep(20.0, min_level=1),),
        (RelaxationStep(15.0, skill="a", optional=True), RelaxationStep(40.0, optional=True)),
        (RelaxationStep(10.0, min_level=2), RelaxationStep(30.0, skill="b", optional=True)),
    ]
)


class AcdMachine(RuleBasedStateMachine):
    """Drives one AcdState; checks it after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.state = AcdState(rng=random.Random(0))
        self.stats = AcdStats(self.state.queue)
        self.now = 1000.0
        self.in_acd: set[str] = set()
        self.rr_last: dict[str, tuple[int, str]] = {}
        self.serial = 0

    @initialize(
        strategies=st.lists(st.sampled_from(list(Strategy)), min_size=3, max_size=3),
        relax=st.lists(relaxations, min_size=3, max_size=3),
        seed=st.integers(0, 2**16),
    )
    def setup(self, strategies: list[Strategy], relax: list[tuple], seed: int) -> None:  # type: ignore[type-arg]
        overflows = [
            {"max_wait_s": 60.0, "overflow": OverflowTarget(OverflowKind.QUEUE, "q1")},
            {"max_wait_s": 90.0, "overflow": OverflowTarget(OverflowKind.VOICEMAIL, "vm")},
            {},
        ]
        configs = [
            QueueConfig(name, strategy=strategy, relaxation=steps, wrapup_s=5.0, **extra)
            for name, strategy, steps, extra in zip(
                QUEUES, strategies, relax, overflows, strict=True
            )
        ]
        configs += [
            QueueConfig(
                "d0",
                strategy=strategies[0],
                agent="ag0",
                max_wait_s=30.0,
                overflow=OverflowTarget(OverflowKind.VOICEMAIL, "ag0"),
            ),
            QueueConfig(
                "d1",
                agent="ag1",
                max_wait_s=45.0,
                overflow=OverflowTarget(OverflowKind.QUEUE, "q2"),
            ),
        ]
        self.state = AcdState(configs, rng=random.Random(seed))
        self.stats = AcdStats(self.state.queue)

    @rule()
    def open_direct_line(self) -> None:
        """Agent ag2's direct line appears, maybe while ag2 is logged in and busy."""
        if "d2" not in self.state.queues:
            self.state.configure_queue(QueueConfig("d2", agent="ag2", wrapup_s=2.0))

    def feed(self, events: list[AcdEvent]) -> list[AcdEvent]:
        for event in events:
            assert event.at == self.now
        self.stats.apply_all(events)
        return events

    # ----- agents --------------------------------------------------------------

    @rule(
        agent_id=st.sampled_from(AGENTS),
        skills=skill_maps,
        queues=memberships,
        persistent=st.booleans(),
        paused=st.booleans(),
    )
    def login(
        self, agent_id: str, skills: dict, queues: dict, persistent: bool, paused: bool
    ) -> None:  # type: ignore[type-arg]
        known = self.state.agents.get(agent_id)
        mode = AgentMode.PERSISTENT if persistent else AgentMode.RING
        profile = AgentProfile(agent_id, agent_id, skills, mode, queues)
        if known is not None and known.state is not AgentState.LOGGED_OUT:
            self._refused(lambda: self.state.login(profile, self.now))
            return
        self.feed(self.state.login(profile, self.now, paused="break" if paused else None))

    @rule(data=st.data())
    def logout(self, data: st.DataObject) -> None:
        known = sorted(self.state.agents)
        if not known:
            return
        agent_id = data.draw(st.sampled_from(known))
        agent = self.state.agent(agent_id)
        if agent.state in (AgentState.RESERVED, AgentState.ON_CALL, AgentState.LOGGED_OUT):
            self._refused(lambda: self.state.logout(agent_id, self.now))
        else:
            self.feed(self.state.logout(agent_id, self.now))

    @rule(data=st.data())
    def pause_or_unpause(self, data: st.DataObject) -> None:
        known = sorted(
            a.id for a in self.state.agents.values() if a.state is not AgentState.LOGGED_OUT
        )
        if not known:
            return
        agent_id = data.draw(st.sampled_from(known))
        if self.state.agent(agent_id).state is AgentState.PAUSED:
            self.feed(self.state.unpause(agent_id, self.now))
        else:
            self.feed(self.state.pause(agent_id, "lunch", self.now))

    @rule(data=st.data())
    def agent_blips(self, data: st.DataObject) -> None:
        """A paused agent comes back and pauses again before any routing pass."""
        paused = sorted(a.id for a in self.state.agents.values() if a.state is AgentState.PAUSED)
        if paused:
            agent_id = data.draw(st.sampled_from(paused))
            self.feed(self.state.unpause(agent_id, self.now))
            self.feed(self.state.pause(agent_id, "again", self.now))

    @rule(data=st.data(), logout=st.booleans())
    def promised_agent_leaves(self, data: st.DataObject, logout: bool) -> None:
        """An agent the router just chose pauses or logs out instead of being offered."""
        promised = sorted(
            {
                a
                for x in next_assignments(self.state, self.now, rng=random.Random(0))
                for a in x.agent_ids
            }
        )
        if promised:
            agent_id = data.draw(st.sampled_from(promised))
            if logout:
                self.feed(self.state.logout(agent_id, self.now))
            else:
                self.feed(self.state.pause(agent_id, "gone", self.now))

    @rule(data=st.data())
    def wrapup_done(self, data: st.DataObject) -> None:
        wrapping = sorted(a.id for a in self.state.agents.values() if a.state is AgentState.WRAP_UP)
        if wrapping:
            self.feed(self.state.wrapup_done(data.draw(st.sampled_from(wrapping)), self.now))

    # ----- calls ---------------------------------------------------------------

    @rule(
        queue=st.sampled_from(QUEUES + tuple(DIRECT)),
        priority=st.integers(0, 2),
        required=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 2), max_size=2),
    )
    def enqueue(self, queue: str, priority: int, required: dict) -> None:  # type: ignore[type-arg]
        """A caller enters a queue, or an agent's direct line (a targeted call)."""
        if queue not in self.state.queues:
            return
        self.serial += 1
        call_id = f"call{self.serial}"
        self.feed(
            self.state.enqueue(call_id, queue, self.now, priority=priority, required=required)
        )
        self.in_acd.add(call_id)

    @precondition(lambda self: self.in_acd)
    @rule(data=st.data())
    def abandon(self, data: st.DataObject) -> None:
        call_id = data.draw(st.sampled_from(sorted(self.in_acd)))
        if self.state.call(call_id).status is CallStatus.CONNECTED:
            self._refused(lambda: self.state.abandon(call_id, self.now))
            return
        self.feed(self.state.abandon(call_id, self.now))
        self.in_acd.discard(call_id)

    @rule(data=st.data())
    def answer(self, data: st.DataObject) -> None:
        offered = sorted(
            (c.call_id, a)
            for c in self.state.calls.values()
            if c.status is CallStatus.OFFERED
            for a in c.ringing
        )
        if offered:
            call_id, agent_id = data.draw(st.sampled_from(offered))
            self.feed(self.state.answered(call_id, agent_id, self.now))

    @rule(data=st.data())
    def ring_no_answer(self, data: st.DataObject) -> None:
        reserved = sorted(
            a.id for a in self.state.agents.values() if a.state is AgentState.RESERVED
        )
        if reserved:
            agent_id = data.draw(st.sampled_from(reserved))
            self.feed(self.state.ring_no_answer(agent_id, self.now))
            assert self.state.agent(agent_id).pause_reason == "no answer"

    @rule(data=st.data())
    def hangup(self, data: st.DataObject) -> None:
        connected = sorted(
            c.call_id for c in self.state.calls.values() if c.status is CallStatus.CONNECTED
        )
        if connected:
            call_id = data.draw(st.sampled_from(connected))
            self.feed(self.state.hangup(call_id, self.now))
            self.in_acd.discard(call_id)

    @rule(seconds=st.sampled_from([0.5, 3.0, 7.0, 12.0, 25.0, 45.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def advance_to_next_timer(self) -> None:
        """Jump to the next time something falls due (ring, wrap-up, overflow, relaxation)."""
        next_at = self.state.timers(self.now).next_at
        if next_at is not None:
            assert next_at > self.now
            self.now = next_at

    @rule()
    def timers(self) -> None:
        due = self.state.timers(self.now)
        for call_id, _agent_id in due.ring_timeouts:
            if self.state.calls.get(call_id) and self.state.call(call_id).ringing:
                self.feed(self.state.ring_timeout(call_id, self.now))
        for agent_id in due.wrapups_done:
            self.feed(self.state.wrapup_done(agent_id, self.now))
        for call_id in due.overflows:
            events = self.feed(self.state.overflow(call_id, self.now))
            if call_id not in self.state.calls:
                self.in_acd.discard(call_id)
            assert events[0].kind == "call_overflowed"

    @rule(queue=st.sampled_from(QUEUES + tuple(DIRECT)), strategy=st.sampled_from(list(Strategy)))
    def reconfigure(self, queue: str, strategy: Strategy) -> None:
        if queue not in self.state.queues:
            return
        old = self.state.queue(queue)
        if old.strategy is not strategy:
            self.rr_last.pop(queue, None)
        fields = {f: getattr(old, f) for f in old.__dataclass_fields__}
        self.state.configure_queue(QueueConfig(**{**fields, "strategy": strategy}))

    # ----- routing -------------------------------------------------------------

    @rule(apply=st.integers(0, 4))
    def route(self, apply: int) -> None:
        """Route, compare with the reference, and apply the first ``apply`` offers."""
        ref_rng = random.Random()
        ref_rng.setstate(self.state.rng.getstate())
        expected = reference_assignments(self.state, self.now, ref_rng, self.rr_last)
        got = next_assignments(self.state, self.now)
        assert got == expected
        for assignment in got:
            owner = DIRECT.get(assignment.queue)
            assert owner is None or assignment.agent_ids == (owner,)
        assert self.state.rng.getstate() == ref_rng.getstate()
        for assignment in got[:apply]:
            call = self.state.call(assignment.call_id)
            req = requirement_at(self.state.queue(call.queue), call, self.now)
            for agent_id in assignment.agent_ids:
                assert qualifies(self.state.agent(agent_id), req)
            self.feed(self.state.reserve(assignment.call_id, assignment.agent_ids, self.now))
            if self.state.queue(call.queue).strategy is Strategy.ROUND_ROBIN:
                agent = self.state.agent(assignment.agent_ids[0])
                self.rr_last[call.queue] = (agent.queues[call.queue].position, agent.id)

    def _refused(self, action) -> None:  # type: ignore[no-untyped-def]
        before = {a.id: (a.state, a.call_id) for a in self.state.agents.values()}
        try:
            action()
        except IllegalTransition:
            pass
        else:
            raise AssertionError("an illegal transition was accepted")
        assert before == {a.id: (a.state, a.call_id) for a in self.state.agents.values()}

    # ----- invariants ----------------------------------------------------------

    @invariant()
    def router_agrees_with_reference_at_every_step(self) -> None:
        seed = self.serial
        expected = reference_assignments(self.state, self.now, random.Random(seed), self.rr_last)
        assert next_assignments(self.state, self.now, rng=random.Random(seed)) == expected

    @invariant()
    def targeted_calls_reach_only_their_agent(self) -> None:
        """A call on a direct line rings, or talks to, that line's agent and nobody else."""
        for call in self.state.calls.values():
            owner = DIRECT.get(call.queue)
            if owner is None:
                continue
            assert call.ringing <= {owner}
            assert call.agent_id in (None, owner)
            if call.status is CallStatus.OFFERED and call.offered_at is not None:
                assert call.ringing == {owner}

    @invariant()
    def statistics_account_for_every_call(self) -> None:
        """Offered = answered + abandoned (short or not) + overflowed out + still here."""
        for q in self.state.queues:
            counts = self.stats.queue_counts(q)
            here = sum(
                1
                for c in self.state.calls.values()
                if c.queue == q and c.status is not CallStatus.CONNECTED
            )
            settled = counts.answered + counts.abandoned + counts.short_abandoned
            assert counts.offered == settled + counts.overflowed + here
            assert counts.handled <= counts.answered

    @invariant()
    def one_call_per_agent(self) -> None:
        holders: Counter[str] = Counter()
        for call in self.state.calls.values():
            if call.status is CallStatus.OFFERED:
                assert call.ringing
                holders.update(call.ringing)
                for agent_id in call.ringing:
                    agent = self.state.agent(agent_id)
                    assert agent.state is AgentState.RESERVED
                    assert agent.call_id == call.call_id
            elif call.status is CallStatus.CONNECTED:
                assert call.agent_id is not None
                assert not call.ringing
                holders[call.agent_id] += 1
                agent = self.state.agent(call.agent_id)
                assert agent.state is AgentState.ON_CALL
                assert agent.call_id == call.call_id
        assert all(n == 1 for n in holders.values())
        for agent in self.state.agents.values():
            busy = agent.state in (AgentState.RESERVED, AgentState.ON_CALL)
            assert busy == (agent.call_id is not None) == (agent.id in holders)

    @invariant()
    def no_call_lost_or_duplicated(self) -> None:
        assert set(self.state.calls) == self.in_acd
        waiting = [c.call_id for q in self.state.queues for c in self.state.waiting(q)]
        assert len(waiting) == len(set(waiting))
        expected = {c.call_id for c in self.state.calls.values() if c.status is CallStatus.WAITING}
        assert set(waiting) == expected
        for q in self.state.queues:
            assert self.state.waiting_count(q) == len(self.state.waiting(q))

    @invariant()
    def indexes_match_brute_force(self) -> None:
        for q, config in self.state.queues.items():
            strategy = config.strategy
            available = [
                a
                for a in self.state.agents.values()
                if a.state is AgentState.AVAILABLE and serves(a, q, config)
            ]

            def order(a, q=q, strategy=strategy):  # type: ignore[no-untyped-def]
                m = a.queues[q]
                if strategy is Strategy.LONGEST_IDLE:
                    key = (a.idle_since, a.id)
                elif strategy is Strategy.FEWEST_CALLS:
                    key = (a.calls_taken, a.idle_since, a.id)
                elif strategy in (Strategy.ROUND_ROBIN, Strategy.LINEAR):
                    key = (m.position, a.id)
                else:
                    key = (a.id,)
                return (m.penalty, key)

            assert self.state.available_agents(q) == [a.id for a in sorted(available, key=order)]
            assert (q in self.state._staffed) == bool(available)
            counts = Counter(
                a.state
                for a in self.state.agents.values()
                if serves(a, q, config) and a.state is not AgentState.LOGGED_OUT
            )
            assert self.state.agents_by_state(q) == dict(counts)


AcdMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAcdProperties = AcdMachine.TestCase
TestAcdProperties.__doc__ = (
    "Random operation sequences: one call per agent, skills respected after relaxation, "
    "no call lost or duplicated, and the indexed router equal to the brute-force rule."
)
