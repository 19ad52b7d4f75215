"""Small flows shared by the IVR unit tests."""

from __future__ import annotations

import copy
from typing import Any

import yaml

BASE: dict[str, Any] = {
    "flow": "unit",
    "dids": ["8001"],
    "languages": ["en", "nl"],
    "sound_languages": ["en"],
    "start": "hours",
    "calendars": {
        "office": {
            "time_zone": "Europe/Amsterdam",
            "weekly": {"mon": ["09:00-17:00"], "sat": ["10:00-12:00"]},
            "holidays": ["2026-12-25"],
        }
    },
    "routes": {"operators": {"dial": "PJSIP/{number}", "pattern": "1[0-9]{3}"}},
    "prompts": {
        "hello": {"sound": "hello-world", "text": {"nl": "Hallo"}},
        "menu": {"text": {"en": "Press 1 or 2", "nl": "Druk 1 of 2"}},
        "again": {"sound": "please-try-again", "text": {"nl": "Nog een keer"}},
        "closed": {"text": {"en": "Closed", "nl": "Gesloten"}},
    },
    "nodes": {
        "hours": {
            "kind": "condition",
            "rules": [{"holiday": "office", "goto": "closed"}, {"open": "office", "goto": "main"}],
            "else": "closed",
        },
        "main": {
            "kind": "menu",
            "prompt": "menu",
            "choices": {"1": "account", "2": "dutch"},
            "timeout_ms": 3000,
            "retries": 1,
            "invalid_prompt": "again",
            "timeout_prompt": "again",
            "fallback": "operator",
        },
        "dutch": {"kind": "language", "language": "nl", "next": "main"},
        "account": {
            "kind": "input",
            "prompt": "menu",
            "variable": "account",
            "max_digits": 6,
            "min_digits": 6,
            "pattern": "[0-9]{6}",
            "retries": 1,
            "next": "find",
            "fallback": "operator",
        },
        "find": {
            "kind": "lookup",
            "by": "variable",
            "variable": "account",
            "found": "vip_check",
            "not_found": "operator",
        },
        "vip_check": {
            "kind": "condition",
            "rules": [{"var": "contact.tier", "equals": "gold", "goto": "gold"}],
            "else": "queue",
        },
        "gold": {
            "kind": "queue",
            "queue": "gold",
            "priority": 50,
            "skills": ["billing"],
            "target": "ccpbx-park,s,1",
        },
        "queue": {"kind": "queue", "queue": "accounts", "target": "ccpbx-park,s,1"},
        "operator": {"kind": "transfer", "route": "operators", "number": "1001", "failed": "bye"},
        "closed": {"kind": "play", "prompts": ["closed"], "next": "bye"},
        "bye": {"kind": "hangup", "prompt": "hello"},
    },
}


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def text(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
