"""Which sound file plays a prompt in a language (pure), and building the generated ones.

A prompt plays an Asterisk recording when the language has a recorded set and the
prompt names a `sound`; otherwise its text for that language is spoken by espeak-ng
into an 8 kHz mono wav named after a hash of voice, language and text, so a file is
made once and re-made only when its text changes. Generated files live in
`<sounds>/<language>/ccpbx/`; with the channel language set, Asterisk finds them as
`ccpbx/<hash>`.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ccpbx.ivr.model import Flow, Problem, Prompt

GENERATED_DIR = "ccpbx"
SOUND_PREFIX = "sound:"  # a node may name a recording directly: "sound:beep"
VOICES = {"en": "en-us", "es": "es", "nl": "nl"}


def voice_for(language: str) -> str:
    return VOICES.get(language, language)


def generated_name(text: str, language: str) -> str:
    """The file name (no extension, relative to the language folder) for a spoken text."""
    digest = hashlib.sha256(f"{voice_for(language)}\0{language}\0{text}".encode()).hexdigest()
    return f"{GENERATED_DIR}/p-{digest[:20]}"


def prompt_for(flow: Flow, ref: str) -> Prompt | None:
    """The prompt a node reference names: a catalogue entry or `sound:NAME`."""
    if ref.startswith(SOUND_PREFIX):
        return Prompt(ref, sound=ref[len(SOUND_PREFIX) :])
    return flow.prompts.get(ref)


def file_for(flow: Flow, ref: str, language: str) -> str | None:
    """The file to stream for prompt `ref` in `language`, None if there is none."""
    prompt = prompt_for(flow, ref)
    if prompt is None:
        return None
    if prompt.sound and language in flow.sound_languages:
        return prompt.sound
    text = prompt.text.get(language)
    if text:
        return generated_name(text, language)
    return None


@dataclass(frozen=True, slots=True)
class SpokenPrompt:
    language: str
    text: str
    name: str  # generated_name(text, language)


def spoken_prompts(flow: Flow) -> list[SpokenPrompt]:
    """Every generated file the flow needs, once each."""
    seen: dict[str, SpokenPrompt] = {}
    for prompt in flow.prompts.values():
        for language in flow.languages:
            if prompt.sound and language in flow.sound_languages:
                continue
            text = prompt.text.get(language)
            if text:
                name = generated_name(text, language)
                seen.setdefault(name, SpokenPrompt(language, text, name))
    return list(seen.values())


AUDIO_EXTENSIONS = ("wav", "WAV", "gsm", "ulaw", "alaw", "sln", "slin", "g722", "g729", "wav16")


def used_files(flow: Flow) -> list[tuple[str, str, str]]:
    """(prompt reference, language, file) for every file the flow's nodes can play."""
    refs: list[str] = []
    for node in flow.nodes.values():
        refs += list(node.get("prompts", ()))
        refs += [node.get(k) for k in ("prompt", "invalid_prompt", "timeout_prompt") if node.get(k)]
    out = []
    for ref in dict.fromkeys(refs):
        for language in flow.languages:
            name = file_for(flow, ref, language)
            if name is not None:
                out.append((ref, language, name))
    return out


def missing_files(
    flow: Flow, sounds_dir: str, host_path: Callable[[str], Path] = Path
) -> list[Problem]:
    """A problem for each file the flow plays that is not in `sounds_dir` (I/O)."""
    problems = []
    for ref, language, name in used_files(flow):
        base = f"{sounds_dir}/{language}/{name}"
        if not any(host_path(f"{base}.{ext}").exists() for ext in AUDIO_EXTENSIONS):
            hint = (
                "run ccpbx prompts build"
                if name.startswith(GENERATED_DIR + "/")
                else ("no such recording")
            )
            problems.append(Problem(f"prompt {ref}", f"{language}: {base} not found ({hint})"))
    return problems


def in_root(root: Path) -> Callable[[str], Path]:
    """Map a path seen inside `root` (a chroot) to the host, following symbolic links
    the way the chroot would (absolute link targets start again at `root`)."""

    def host_path(inside: str) -> Path:
        parts = [p for p in inside.split("/") if p]
        current = root
        hops = 0
        while parts:
            part = parts.pop(0)
            candidate = current / part
            if candidate.is_symlink() and hops < 40:
                hops += 1
                target = str(candidate.readlink())
                if target.startswith("/"):
                    current = root
                parts = [p for p in target.split("/") if p] + parts
                continue
            current = current.parent if part == ".." else candidate
        return current

    return host_path


Runner = Callable[[Sequence[str]], None]


def run_local(argv: Sequence[str]) -> None:
    subprocess.run(list(argv), check=True, capture_output=True, timeout=60)


def build(
    prompts: Iterable[SpokenPrompt],
    sounds_dir: str,
    *,
    run: Runner = run_local,
    host_path: Callable[[str], Path] = Path,
) -> tuple[list[str], list[str]]:
    """Generate the missing files under `sounds_dir` (as the player sees it).

    `run` executes a command where espeak-ng and sox live (e.g. inside the sandbox
    root); `host_path` maps a path there to one this process can read. Returns the
    (made, already present) file paths.
    """
    made, present = [], []
    for p in prompts:
        final = f"{sounds_dir}/{p.language}/{p.name}.wav"
        if host_path(final).exists():
            present.append(final)
            continue
        host_path(final).parent.mkdir(parents=True, exist_ok=True)
        raw = f"{final}.raw.wav"
        tmp = f"{final}.tmp.wav"
        run(["espeak-ng", "-v", voice_for(p.language), "-w", raw, p.text])
        run(["sox", raw, "-r", "8000", "-c", "1", "-b", "16", tmp])
        host_path(raw).unlink(missing_ok=True)
        host_path(tmp).replace(host_path(final))  # atomic: a caller never hears half a file
        made.append(final)
    return made, present
