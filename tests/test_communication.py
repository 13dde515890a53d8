"""Tone and channel: level rules, CLV and history, consent, contact data, cost, vulnerability."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from dunning.communication import COMMUNICATION_COLUMNS, choose_tone_and_channel
from dunning.errors import DataError
from dunning.policy import Policy


def _cases(n: int = 1, **overrides: object) -> pd.DataFrame:
    base: dict[str, object] = {
        "level": [2] * n,
        "vulnerable": [False] * n,
        "contact_consent": ["email|letter"] * n,
        "email": ["kunde@example.com"] * n,
        "phone": ["+49 30 1234567"] * n,
        "street": ["Hauptstr. 1"] * n,
        "postal_code": ["10115"] * n,
        "city": ["Berlin"] * n,
    }
    base.update(overrides)
    return pd.DataFrame(base)


def _with_level2_channels(*channels: str) -> Policy:
    policy = Policy.default("DE")
    levels = list(policy.levels)
    levels[1] = levels[1].model_copy(update={"channels": channels})
    return policy.replace(levels=tuple(levels))


def test_level_tone_and_cheapest_consented_channel() -> None:
    """Levels 1-4 of the German default: friendly, neutral, neutral, firm; e-mail is cheapest."""
    out = choose_tone_and_channel(_cases(4, level=[1, 2, 3, 4]))
    assert list(out.columns) == list(COMMUNICATION_COLUMNS)
    assert out["tone"].tolist() == ["friendly", "neutral", "neutral", "firm"]
    assert out["channel"].tolist() == ["email"] * 4
    assert out["help_line"].tolist() == [False] * 4
    assert out["escalation_blocked"].tolist() == [False] * 4
    assert out.loc[1, "communication_reason"] == (
        "tone neutral: level 2; channel email: cheapest usable of email, letter"
    )
    assert out.loc[1, "communication_reason_de"] == (
        "Ton neutral: Stufe 2; Kanal E-Mail: günstigster nutzbarer unter E-Mail, Brief"
    )


def test_vulnerable_customer_is_protected() -> None:
    """A vulnerable customer at the final notice: friendly, help line, escalation blocked."""
    out = choose_tone_and_channel(_cases(2, level=[4, 4], vulnerable=[True, False])).iloc[0]
    assert out["tone"] == "friendly"
    assert bool(out["help_line"]) is True
    assert bool(out["escalation_blocked"]) is True
    assert out["communication_reason"].startswith(
        "tone friendly: vulnerable customer (gentle tone, help line, no escalation)"
    )


def test_missing_vulnerable_flag_counts_as_not_vulnerable() -> None:
    """NA in ``vulnerable`` (or no column) is not vulnerable: the level's firm tone stays."""
    flags = pd.array([pd.NA], dtype="boolean")
    assert choose_tone_and_channel(_cases(level=[4], vulnerable=flags))["tone"].item() == "firm"
    bare = choose_tone_and_channel(pd.DataFrame({"level": [4]}))
    assert bare["tone"].item() == "firm"
    assert not bare["help_line"].item()


def test_no_email_consent_means_letter() -> None:
    """Without e-mail consent the letter is the only usable channel of level 2."""
    out = choose_tone_and_channel(_cases(contact_consent=["letter"]))
    assert out["channel"].item() == "letter"
    assert out["communication_reason"].item().endswith("channel letter: cheapest usable of letter")


def test_missing_email_address_means_letter() -> None:
    """Consent to e-mail but no address on file: letter."""
    out = choose_tone_and_channel(_cases(email=[None]))
    assert out["channel"].item() == "letter"


def test_level_channels_limit_the_choice() -> None:
    """Level 5 of the German default allows the letter only, even with e-mail consent."""
    out = choose_tone_and_channel(_cases(level=[5]))
    assert out["channel"].item() == "letter"
    assert out["tone"].item() == "firm"


def test_cost_decides_between_usable_channels() -> None:
    """Level 2 with sms and letter allowed: SMS (0.09) beats the letter (1.10) with consent."""
    policy = _with_level2_channels("letter", "sms")
    cases = _cases(3, contact_consent=["sms|letter", "letter", "sms|letter"],
                   phone=["+49 30 1", "+49 30 2", ""])  # fmt: skip
    assert choose_tone_and_channel(cases, policy)["channel"].tolist() == [
        "sms", "letter", "letter",
    ]  # fmt: skip


def test_equal_costs_follow_the_level_preference() -> None:
    """If e-mail costs as much as a letter, the level's first channel (letter) wins."""
    base = Policy.default("DE")
    rules = base.tone_and_channel
    costs = rules.channel_costs.model_copy(update={"email": Decimal("1.10")})
    policy = base.replace(tone_and_channel=rules.model_copy(update={"channel_costs": costs}))
    assert choose_tone_and_channel(_cases(), policy)["channel"].item() == "letter"


def test_fallback_letter_when_no_channel_is_usable() -> None:
    """Level 2 allowing e-mail only, customer without e-mail consent: the letter fallback."""
    policy = _with_level2_channels("email")
    out = choose_tone_and_channel(_cases(contact_consent=["letter"], street=[""]), policy)
    assert out["channel"].item() == "letter"
    assert out["communication_reason"].item() == (
        "tone neutral: level 2; channel letter: fallback, no usable channel among email; "
        "postal address missing"
    )


def test_high_clv_softens_one_step() -> None:
    """The top fifth of CLV gets neutral instead of firm at level 4; others stay firm."""
    cases = _cases(5, level=[4] * 5, clv=[900.0, 10.0, 20.0, float("nan"), 40.0])
    out = choose_tone_and_channel(cases)
    assert out["tone"].tolist() == ["neutral", "firm", "firm", "firm", "firm"]
    assert str(out.loc[0, "communication_reason_de"]).startswith(
        "Ton neutral: Stufe 4 ist bestimmt, eine Stufe sanfter: CLV im oberen Fünftel"
    )


def test_good_history_softens_but_never_below_friendly() -> None:
    """No broken promise and no late payment: firm -> neutral; friendly stays friendly."""
    cases = _cases(3, level=[4, 1, 4], broken_promises=[0, 0, 1], late_12m_share=[0.0, 0.0, 0.0])
    out = choose_tone_and_channel(cases)
    assert out["tone"].tolist() == ["neutral", "friendly", "firm"]
    explicit = choose_tone_and_channel(_cases(level=[3], good_history=[True]))
    assert explicit["tone"].item() == "friendly"


def test_without_history_nobody_is_softened() -> None:
    """Only broken_promises, no late-payment data: not a good history."""
    out = choose_tone_and_channel(_cases(level=[4], broken_promises=[0]))
    assert out["tone"].item() == "firm"


@pytest.mark.parametrize("level", [0, 6])
def test_level_outside_policy_raises(level: int) -> None:
    """A level that is not one of the policy's is a DataError."""
    with pytest.raises(DataError, match="not one of policy"):
        choose_tone_and_channel(_cases(level=[level]))
