"""Class of service: may this phone dial this outside number?

Pure code, no I/O (the ``phone-outside`` FastAGI script, :mod:`ccpbx.pbx.outside`,
asks it for every outside call a phone places). A dialed number is read with
``phonenumbers`` in the PBX's home region (``[dialing] home_region``): E.164
(``+442071234567``), national digits (``2125550123``, ``02071234567``) or the home
region's international prefix (``011 44 ...`` in the US, ``00 44 ...`` in the UK).

What a number is (:func:`classify`), first rule that holds:

- ``emergency``: the home region's emergency numbers (911, 112, 999, ...), by
  ``phonenumbers.shortnumberinfo.is_emergency_number``, dialed as they are;
- ``invalid``: anything ``phonenumbers`` does not take for a valid number;
- ``premium``: premium rate (US 1-900, UK 09..), shared cost and UAN numbers, and
  satellite and other non-geographic networks (+870, +881, +882, +883: region "001");
- ``international``: a region other than the home region, even under the same
  country code (``+1 876`` is Jamaica, not the US: a classic toll-fraud destination);
- ``local``: the home region and a national number starting with one of
  ``[dialing] local_prefixes`` (the area codes that are a local call, e.g. ``212``,
  ``646`` in New York or ``20`` in London), or a home toll-free number;
- ``national``: any other number of the home region.

Who may call what (:meth:`DialingPolicy.decide`): classes rank none < local < national
< international, and a class may call its own category and every lower one. Emergency
numbers are allowed for every class, ``none`` included: a phone must never be kept from
an emergency call by its class. Premium numbers are denied for every class unless
``[dialing] premium_classes`` names the phone's class, and then only where the class
would also reach the number's region (national for a home premium number, international
for a foreign one or a satellite network).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo

from ccpbx.pbx.model import CLASSES_OF_SERVICE

RANK = {name: rank for rank, name in enumerate(CLASSES_OF_SERVICE)}
"""none 0 < local 1 < national 2 < international 3."""

EMERGENCY, INVALID, PREMIUM = "emergency", "invalid", "premium"
LOCAL, NATIONAL, INTERNATIONAL = "local", "national", "international"

_PREMIUM_TYPES = (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.UAN)
_NON_GEOGRAPHIC = "001"  # phonenumbers' region of +800, +870, +881, +882, +883, ...
_DIALED = re.compile(r"\+?[0-9]{1,20}")


@dataclass(frozen=True, slots=True)
class Classified:
    """A dialed number read: its category (see the module docstring), what to dial
    (E.164, or the digits as dialed for an emergency number; empty when invalid), and
    the rank a class needs for its region (premium numbers: national or international)."""

    category: str
    number: str
    region: str | None = None
    needs: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    category: str
    number: str
    reason: str
    """``allowed``, ``emergency``, ``invalid_number``, ``premium_not_allowed``,
    ``class_too_low`` (the class does not reach the category), ``unknown_class``."""


def classify(dialed: str, home_region: str, local_prefixes: Iterable[str] = ()) -> Classified:
    """What ``dialed`` is when dialed from ``home_region`` (see the module docstring)."""
    if not _DIALED.fullmatch(dialed):
        return Classified(INVALID, "")
    digits = dialed
    if digits.isdigit() and shortnumberinfo.is_emergency_number(digits, home_region):
        return Classified(EMERGENCY, digits, home_region, "none")
    try:
        parsed = phonenumbers.parse(digits, home_region)
    except phonenumbers.NumberParseException:
        return Classified(INVALID, "")
    if not phonenumbers.is_valid_number(parsed):
        return Classified(INVALID, "")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(parsed)
    kind = phonenumbers.number_type(parsed)
    home = region == home_region
    if kind in _PREMIUM_TYPES or region == _NON_GEOGRAPHIC:
        return Classified(PREMIUM, e164, region, NATIONAL if home else INTERNATIONAL)
    if not home:
        return Classified(INTERNATIONAL, e164, region, INTERNATIONAL)
    national = phonenumbers.national_significant_number(parsed)
    if kind == PhoneNumberType.TOLL_FREE or any(national.startswith(p) for p in local_prefixes):
        return Classified(LOCAL, e164, region, LOCAL)
    return Classified(NATIONAL, e164, region, NATIONAL)


@dataclass(frozen=True, slots=True)
class DialingPolicy:
    """The PBX's dialing rules: its home region, its local area codes, and the classes
    (if any) that may call premium numbers."""

    home_region: str = "US"
    local_prefixes: tuple[str, ...] = ()
    premium_classes: tuple[str, ...] = ()

    def classify(self, dialed: str) -> Classified:
        return classify(dialed, self.home_region, self.local_prefixes)

    def decide(self, dialed: str, class_of_service: str) -> Decision:
        """May a phone of ``class_of_service`` call ``dialed``? An unknown class is
        taken as ``none`` (it can still reach emergency numbers)."""
        found = self.classify(dialed)
        rank = RANK.get(class_of_service)
        if found.category == EMERGENCY:
            return Decision(True, EMERGENCY, found.number, EMERGENCY)
        if found.category == INVALID:
            return Decision(False, INVALID, "", "invalid_number")
        if rank is None:
            return Decision(False, found.category, found.number, "unknown_class")
        if found.category == PREMIUM and class_of_service not in self.premium_classes:
            return Decision(False, PREMIUM, found.number, "premium_not_allowed")
        if rank < RANK[found.needs]:
            return Decision(False, found.category, found.number, "class_too_low")
        return Decision(True, found.category, found.number, "allowed")


def emergency_numbers(home_region: str) -> tuple[str, ...]:
    """Every emergency number of ``home_region`` as dialed (2 to 4 digits), from
    phonenumbers' short-number data: 911 and 112 for the US, 999 and 112 for the UK."""
    found = []
    for length in (2, 3, 4):
        for n in range(10**length):
            digits = f"{n:0{length}d}"
            if shortnumberinfo.is_emergency_number(digits, home_region):
                found.append(digits)
    return tuple(found)
