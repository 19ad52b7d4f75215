"""Does a running Asterisk show what a configuration expects? Asked over AMI with the
actions ccpbx's own AMI user may send (no ``command`` class): ``CoreStatus``,
``ModuleCheck`` per module, ``ShowDialPlan`` per context, ``PJSIPShowEndpoints``,
``PJSIPShowRegistrationsOutbound``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ccpbx.ami import AmiClient, AmiError
from ccpbx.asterisk.expect import Expectations, module_name


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing the running Asterisk does not show, and where the files ask for it."""

    where: str
    text: str

    def __str__(self) -> str:
        return f"{self.where}: {self.text}" if self.where else self.text


async def endpoints(ami: AmiClient, timeout: float) -> set[str]:
    result = await ami.action("PJSIPShowEndpoints", timeout=timeout, check=False)
    if not result.ok:  # "No endpoints found" is an error response
        return set()
    return {e["ObjectName"] for e in result.events if e.name == "EndpointList"}


async def verify(ami: AmiClient, expect: Expectations, timeout: float = 10.0) -> list[Problem]:
    """Every problem found (none: the configuration is live as expected)."""
    problems: list[Problem] = []
    try:
        status = await ami.action("CoreStatus", timeout=timeout, check=False)
        if not status.ok:
            problems.append(Problem("", f"CoreStatus failed: {status.message}"))
        for module in expect.modules:
            answer = await ami.action(
                "ModuleCheck", timeout=timeout, check=False, Module=module_name(module.name)
            )
            if not answer.ok:
                problems.append(
                    Problem(
                        module.where,
                        f"load = {module.name}: module not loaded ({answer.message})",
                    )
                )
        for context in expect.contexts:
            answer = await ami.action(
                "ShowDialPlan", timeout=timeout, check=False, Context=context.name
            )
            if not answer.ok:
                named = f" ({context.where} names it)" if context.line else ""
                problems.append(
                    Problem(
                        "extensions.conf",
                        f"context {context.name} missing: ccpbx sends calls to it{named}",
                    )
                )
        found = await endpoints(ami, timeout)
        if expect.registrations:
            answer = await ami.action(
                "PJSIPShowRegistrationsOutbound", timeout=timeout, check=False
            )
            loaded = {
                e.get("ObjectName") for e in answer.events if e.name == "OutboundRegistrationDetail"
            }
            problems += [
                Problem(r.where, f"registration {r.name} not loaded")
                for r in expect.registrations
                if r.name not in loaded
            ]
    except AmiError as exc:
        problems.append(Problem("", f"AMI: {exc}"))
        return problems
    missing = sorted(expect.endpoints - found)
    extra = sorted(found - expect.endpoints)
    if missing:
        problems.append(Problem("pjsip.conf", f"endpoint(s) missing: {', '.join(missing)}"))
    if extra:
        problems.append(Problem("pjsip.conf", f"endpoint(s) not expected: {', '.join(extra)}"))
    return problems
