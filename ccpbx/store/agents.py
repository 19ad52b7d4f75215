"""Agents with their skill levels, and queues with the skills they require."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import asyncpg

from ccpbx.errors import InvalidInput, NotFound
from ccpbx.store.db import Executor, transaction, translate_errors

STRATEGIES = ("longest_idle", "round_robin", "skill_level")


@dataclass(frozen=True, slots=True)
class Agent:
    id: int
    username: str
    display_name: str
    endpoint: str | None
    active: bool
    skills: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Queue:
    id: int
    name: str
    strategy: str
    max_wait_s: int
    wrapup_s: int
    required_skills: Mapping[str, int] = field(default_factory=dict)


def _check_level(level: int) -> None:
    if not 1 <= level <= 10:
        raise InvalidInput("a skill level is between 1 and 10", level=level)


async def create_agent(
    db: Executor, username: str, *, display_name: str = "", endpoint: str | None = None
) -> Agent:
    with translate_errors("create agent", username=username):
        row = await db.fetchrow(
            """INSERT INTO agents (username, display_name, endpoint) VALUES ($1, $2, $3)
               RETURNING *""",
            username,
            display_name,
            endpoint,
        )
    assert row is not None
    return Agent(row["id"], row["username"], row["display_name"], row["endpoint"], row["active"])


async def _agent(db: Executor, row: asyncpg.Record | None, key: object) -> Agent:
    if row is None:
        raise NotFound(f"no agent {key}", agent=str(key))
    skills = await db.fetch(
        """SELECT s.name, a.level FROM agent_skills a JOIN skills s ON s.id = a.skill_id
           WHERE a.agent_id = $1 ORDER BY s.name""",
        row["id"],
    )
    return Agent(
        row["id"],
        row["username"],
        row["display_name"],
        row["endpoint"],
        row["active"],
        {r["name"]: r["level"] for r in skills},
    )


async def get_agent(db: Executor, username: str) -> Agent:
    row = await db.fetchrow("SELECT * FROM agents WHERE username = $1", username)
    return await _agent(db, row, username)


async def get_agent_by_id(db: Executor, agent_id: int) -> Agent:
    row = await db.fetchrow("SELECT * FROM agents WHERE id = $1", agent_id)
    return await _agent(db, row, agent_id)


async def set_active(db: Executor, agent_id: int, active: bool) -> None:
    status = await db.execute("UPDATE agents SET active = $2 WHERE id = $1", agent_id, active)
    if status == "UPDATE 0":
        raise NotFound(f"no agent {agent_id}", agent=str(agent_id))


async def _skill_id(conn: asyncpg.Connection, name: str) -> int:
    with translate_errors("create skill", skill=name):
        skill_id: int = await conn.fetchval(
            """INSERT INTO skills (name) VALUES ($1)
               ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id""",
            name,
        )
    return skill_id


async def set_skill(db: Executor, agent_id: int, skill: str, level: int) -> None:
    """Give an agent a skill at a level (1-10), creating the skill name if new."""
    _check_level(level)
    async with transaction(db) as conn:
        skill_id = await _skill_id(conn, skill)
        with translate_errors("set agent skill", agent=str(agent_id), skill=skill):
            await conn.execute(
                """INSERT INTO agent_skills (agent_id, skill_id, level) VALUES ($1, $2, $3)
                   ON CONFLICT (agent_id, skill_id) DO UPDATE SET level = EXCLUDED.level""",
                agent_id,
                skill_id,
                level,
            )


async def remove_skill(db: Executor, agent_id: int, skill: str) -> None:
    await db.execute(
        """DELETE FROM agent_skills a USING skills s
           WHERE a.agent_id = $1 AND a.skill_id = s.id AND s.name = $2""",
        agent_id,
        skill,
    )


async def create_queue(
    db: Executor,
    name: str,
    *,
    strategy: str = "longest_idle",
    max_wait_s: int = 300,
    wrapup_s: int = 10,
    required_skills: Mapping[str, int] | None = None,
) -> Queue:
    """A queue; ``required_skills`` maps skill name to the minimum level an agent needs."""
    if strategy not in STRATEGIES:
        raise InvalidInput(f"strategy must be one of {', '.join(STRATEGIES)}", strategy=strategy)
    for level in (required_skills or {}).values():
        _check_level(level)
    async with transaction(db) as conn:
        with translate_errors("create queue", name=name):
            queue_id = await conn.fetchval(
                """INSERT INTO queues (name, strategy, max_wait_s, wrapup_s)
                   VALUES ($1, $2, $3, $4) RETURNING id""",
                name,
                strategy,
                max_wait_s,
                wrapup_s,
            )
        for skill, level in (required_skills or {}).items():
            await conn.execute(
                "INSERT INTO queue_skills (queue_id, skill_id, min_level) VALUES ($1, $2, $3)",
                queue_id,
                await _skill_id(conn, skill),
                level,
            )
        return await get_queue(conn, name)


async def get_queue(db: Executor, name: str) -> Queue:
    row = await db.fetchrow("SELECT * FROM queues WHERE name = $1", name)
    if row is None:
        raise NotFound(f"no queue named {name!r}", name=name)
    skills = await db.fetch(
        """SELECT s.name, q.min_level FROM queue_skills q JOIN skills s ON s.id = q.skill_id
           WHERE q.queue_id = $1 ORDER BY s.name""",
        row["id"],
    )
    return Queue(
        row["id"],
        row["name"],
        row["strategy"],
        row["max_wait_s"],
        row["wrapup_s"],
        {r["name"]: r["min_level"] for r in skills},
    )


async def qualified_agents(db: Executor, queue_id: int) -> list[Agent]:
    """Active agents holding every skill the queue requires at the minimum level or above."""
    rows = await db.fetch(
        """SELECT a.* FROM agents a
           WHERE a.active AND NOT EXISTS (
               SELECT 1 FROM queue_skills q
               WHERE q.queue_id = $1 AND NOT EXISTS (
                   SELECT 1 FROM agent_skills s
                   WHERE s.agent_id = a.id AND s.skill_id = q.skill_id
                     AND s.level >= q.min_level))
           ORDER BY a.username""",
        queue_id,
    )
    return [await _agent(db, r, r["id"]) for r in rows]
