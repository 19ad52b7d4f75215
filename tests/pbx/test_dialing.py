"""Class of service rules: what a dialed number is, and which classes may call it."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from ccpbx.pbx.dialing import DialingPolicy, classify

US = DialingPolicy(home_region="US", local_prefixes=("212", "646"))
UK = DialingPolicy(home_region="GB", local_prefixes=("20",))
CLASSES = ("none", "local", "national", "international")


def _example(region: str, kind: int) -> str:
    number = phonenumbers.example_number_for_type(region, kind)
    assert number is not None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize(
    ("policy", "dialed", "category", "number"),
    [
        (US, "2125550123", "local", "+12125550123"),
        (US, "12125550123", "local", "+12125550123"),
        (US, "+16465550123", "local", "+16465550123"),
        (US, "18005551234", "local", "+18005551234"),  # toll free
        (US, "3125550123", "national", "+13125550123"),
        (US, "+14155550123", "national", "+14155550123"),
        (US, "+442071234567", "international", "+442071234567"),
        (US, "011442071234567", "international", "+442071234567"),
        (US, "+18765551234", "international", "+18765551234"),  # Jamaica under +1
        (US, "+14165550123", "international", "+14165550123"),  # Toronto, Canada
        (US, "19005551234", "premium", "+19005551234"),
        (US, "+449098790000", "premium", "+449098790000"),
        (US, "+881631234567", "premium", "+881631234567"),  # satellite (Iridium)
        (US, "+870772001799", "premium", "+870772001799"),  # Inmarsat
        (US, "911", "emergency", "911"),
        (US, "112", "emergency", "112"),
        (UK, "02071234567", "local", "+442071234567"),
        (UK, "+442071234567", "local", "+442071234567"),
        (UK, "01614960000", "national", "+441614960000"),
        (UK, "07400123456", "national", "+447400123456"),  # mobile
        (UK, "0012125550123", "international", "+12125550123"),
        (UK, "09098790000", "premium", "+449098790000"),
        (UK, "999", "emergency", "999"),
        (UK, "112", "emergency", "112"),
        (US, "17005551234", "invalid", ""),
        (US, "12", "invalid", ""),
        (US, "", "invalid", ""),
        (US, "+44+2071234567", "invalid", ""),
        (US, "2125550123#", "invalid", ""),
        (US, "*45", "invalid", ""),
    ],
)
def test_numbers_are_classified(
    policy: DialingPolicy, dialed: str, category: str, number: str
) -> None:
    """Each dialed number gets its category and the E.164 number to dial."""
    found = policy.classify(dialed)
    assert (found.category, found.number) == (category, number)


def test_shared_cost_and_premium_examples_of_several_countries_are_premium() -> None:
    """phonenumbers' own example premium-rate and shared-cost numbers are premium."""
    for region in ("US", "GB", "DE", "FR"):
        for kind in (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST):
            if phonenumbers.example_number_for_type(region, kind) is None:
                continue
            assert classify(_example(region, kind), "US").category == "premium", (region, kind)


def test_without_local_prefixes_only_toll_free_numbers_are_local() -> None:
    """No local area codes configured: a home geographic number is national."""
    assert classify("2125550123", "US").category == "national"
    assert classify("18005551234", "US").category == "local"


@pytest.mark.parametrize(
    ("dialed", "allowed_from"),
    [
        ("2125550123", "local"),
        ("3125550123", "national"),
        ("+442071234567", "international"),
        ("+18765551234", "international"),
    ],
)
def test_each_class_reaches_its_own_category_and_the_ones_below(
    dialed: str, allowed_from: str
) -> None:
    """none < local < national < international: a class calls what its rank reaches."""
    rank = CLASSES.index(allowed_from)
    for i, klass in enumerate(CLASSES):
        decision = US.decide(dialed, klass)
        assert decision.allowed is (i >= rank), klass
        assert decision.reason == ("allowed" if i >= rank else "class_too_low")


@pytest.mark.parametrize("klass", CLASSES)
@pytest.mark.parametrize("dialed", ["911", "112"])
def test_emergency_numbers_are_allowed_for_every_class(klass: str, dialed: str) -> None:
    """Even a phone of class none reaches 911 and 112, dialed as they are."""
    decision = US.decide(dialed, klass)
    assert (decision.allowed, decision.reason, decision.number) == (True, "emergency", dialed)


@pytest.mark.parametrize("klass", CLASSES)
@pytest.mark.parametrize("dialed", ["19005551234", "+449098790000", "+881631234567"])
def test_premium_numbers_are_denied_for_every_class_by_default(klass: str, dialed: str) -> None:
    """Premium rate, shared cost and satellite numbers: denied, international included."""
    decision = US.decide(dialed, klass)
    assert (decision.allowed, decision.reason) == (False, "premium_not_allowed")


def test_a_class_named_in_premium_classes_may_call_premium_numbers_it_reaches() -> None:
    """premium_classes lets a class call premium numbers of the regions its rank reaches."""
    policy = DialingPolicy("US", premium_classes=("national", "international"))
    assert policy.decide("19005551234", "national").allowed
    assert not policy.decide("+449098790000", "national").allowed
    assert policy.decide("+449098790000", "international").allowed
    assert policy.decide("+881631234567", "international").allowed
    assert not policy.decide("19005551234", "local").allowed


def test_invalid_numbers_and_unknown_classes_are_denied() -> None:
    """An invalid number is denied for all; an unknown class is taken as none."""
    assert US.decide("17005551234", "international").reason == "invalid_number"
    assert US.decide("2125550123", "premium").reason == "unknown_class"
    assert US.decide("911", "premium").allowed


def test_emergency_numbers_of_a_region_as_dialed() -> None:
    """The numbers the dialplan sends out on its own when ccpbx is down."""
    from ccpbx.pbx.dialing import emergency_numbers

    assert emergency_numbers("US") == ("112", "911")
    assert emergency_numbers("GB") == ("112", "999")
    assert "110" in emergency_numbers("DE")
