"""Names that reach Asterisk's dialplan: the rules every writer of one checks against."""

from __future__ import annotations

import re

from ccpbx.errors import InvalidInput

_SOUND = re.compile(r"[a-z0-9_-]+(/[a-z0-9_-]+)*")
MAX_SOUND_NAME = 80


def check_sound_name(name: str, field: str = "prompt") -> str:
    """Return ``name`` if it is a safe sound name for Playback: lower-case letters,
    digits, ``_`` and ``-`` in ``/``-separated parts (no leading ``/``, no ``..``, no
    extension, nothing a dialplan would read as syntax). Raises ``InvalidInput``."""
    if not isinstance(name, str) or not name or len(name) > MAX_SOUND_NAME:
        raise InvalidInput(
            f"{field} must be a sound name of 1 to {MAX_SOUND_NAME} characters", field=field
        )
    if not _SOUND.fullmatch(name):
        raise InvalidInput(
            f"{field} may only hold a-z, 0-9, '_', '-' and '/' between parts: {name!r}",
            field=field,
        )
    return name
