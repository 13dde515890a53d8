"""The dunning policy: every business rule of a run, as one validated configuration.

A :class:`Policy` holds the levels (Mahnstufen) with their timing, fees, channels and tone,
the minimum amount and grace days, which statutory interest and fees are claimed, how
part-payments are allocated, the rules for offers (installment plans, deferrals), for
routing cases to human review, and for tone and channel. It is a frozen pydantic model:
loaded from TOML or YAML, validated on load, never changed afterwards, and identified by a
content hash (:attr:`Policy.version_id`) that the decision record keeps.

Two defaults ship with the package (``dunning/data/policies/``):

* ``Policy.default("DE")`` (``de.toml``): Germany, the rules of :mod:`dunning.levels` and
  :mod:`dunning.offers` as configuration, § 288 BGB interest for consumers and businesses,
  the € 40 flat fee for businesses, consumer fees capped at € 2.50.
* ``Policy.default("GB")`` (``uk.toml``): the United Kingdom (England's bank holidays),
  statutory interest and fixed sums for business debts only (Late Payment of Commercial
  Debts (Interest) Act 1998), no consumer fees, and a Letter of Claim under the
  Pre-Action Protocol for Debt Claims (30 days to reply) before any court step.

Every field is described in the class docstrings below and in ``docs/policy.md``.

Validation
----------
Loading fails with :class:`PolicyValidationError` (a :class:`~dunning.errors.PolicyError`)
that lists **every** problem found, each with its field path (``levels[2].fee_b2c``: the
third entry of ``levels``, counted from 0 as in the file's order), the file, and what to
do. Field types and ranges are checked first; rules across fields (levels numbered
1, 2, 3 ... without gaps, thresholds increasing, consumer fees within the cap and none on
the first reminder, amounts exact in the currency, ...) are checked once every field has
the right type. Concerns that are not errors (a consumer fee cap above € 2.50, a fee on a
level that never goes by post, ...) are listed by :meth:`Policy.advisories` and logged as
warnings on load.

Design decisions
----------------
* A consumer fee on level 1 is an **error**, not a warning: level 1 is the reminder that
  usually first puts the debtor in default (§ 286 (1) BGB), and its cost cannot be claimed
  (BGH VIII ZR 95/18; "Kosten der verzugsbegründenden Erstmahnung").
* Level 5 (hand-over to a collection agency or court) can never be automatic: it needs a
  recorded human decision.
* Vulnerable customers are never escalated automatically and always get the gentle tone and
  the help-line paragraph; the fields that say so cannot be switched off.
* Amounts are ``Decimal``; TOML numbers are read as ``Decimal`` (``2.50`` stays exactly
  ``2.50``), and every amount must fit the currency's minor unit.

This module validates configuration; it computes nothing. Levels, offers and the proposal
read their parameters from it. This is engineering, not legal advice.

Examples
--------
>>> policy = Policy.default("DE")
>>> policy.currency, [level.name_de for level in policy.levels][:2]
('EUR', ['Zahlungserinnerung', '1. Mahnung'])
>>> policy.fee(2, "B2C"), policy.claims_flat_fee("B2B")
(Decimal('1.00'), True)
>>> policy.level_rule(5).automatic
False
>>> len(policy.version_id)
64
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import tomllib
import types
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dunning.calendar import BusinessCalendar
from dunning.errors import PolicyError
from dunning.money import is_known_currency, minor_units
from dunning.typing import Segment

__all__ = [
    "DEFAULT_CURRENCY",
    "MAX_LEVEL",
    "ActionCosts",
    "CalendarRule",
    "CaseGrouping",
    "Channel",
    "ChannelCosts",
    "DayCount",
    "Jurisdiction",
    "LevelRule",
    "OfferRules",
    "PaymentAllocation",
    "Policy",
    "PolicyValidationError",
    "RecoveryUplift",
    "ReviewRules",
    "SegmentChoice",
    "Tone",
    "ToneChannelRules",
]

logger = logging.getLogger(__name__)

#: Legal system the policy is written for: Germany or the United Kingdom.
Jurisdiction: TypeAlias = Literal["DE", "GB"]
#: How a letter is sent.
Channel: TypeAlias = Literal["email", "letter", "sms"]
#: Tone of a letter, from gentle to firm.
Tone: TypeAlias = Literal["friendly", "neutral", "firm"]
#: Interest day count (see :mod:`dunning.interest`).
DayCount: TypeAlias = Literal["act/365", "act/act"]
#: Order in which a part-payment is applied: § 367 BGB (costs, interest, principal) or
#: § 497 (3) BGB for consumer loans (costs, principal, interest).
PaymentAllocation: TypeAlias = Literal["bgb_367", "consumer_loan"]
#: One case (and letter) per customer listing all overdue invoices, or one per invoice.
CaseGrouping: TypeAlias = Literal["customer", "invoice"]

#: Highest dunning level: 5, the hand-over to a collection agency or court.
MAX_LEVEL = 5
#: Currency of a policy that does not name one, by jurisdiction.
DEFAULT_CURRENCY: Mapping[str, str] = types.MappingProxyType({"DE": "EUR", "GB": "GBP"})

# Calendar subdivision of a policy that does not name a calendar: England for the UK (the
# August bank holiday differs between the nations), none (nationwide) for Germany.
_DEFAULT_SUBDIVISION = {"DE": None, "GB": "ENG"}
_PACKAGED = {"DE": "de.toml", "GB": "uk.toml"}
# BGH VIII ZR 95/18 (26 June 2019) rejected a EUR 2.50 flat fee; only about EUR 0.76 of real
# cost (print, envelope, postage) was recognised. EUR 2.50 is a common tool default, no cap
# set by law.
_DE_FEE_CAP_NOTE = Decimal("2.50")
# Pre-Action Protocol for Debt Claims, para. 4: the debtor has 30 days to reply.
_LETTER_OF_CLAIM_DAYS = 30

_CONFIG = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)

_Money = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
_Share = Annotated[float, Field(ge=0, le=1)]
_Text = Annotated[StrictStr, Field(min_length=1)]
_PositiveDays = Annotated[StrictInt, Field(ge=1, le=3650)]
_Level = Annotated[StrictInt, Field(ge=1, le=MAX_LEVEL)]
_Count = Annotated[StrictInt, Field(ge=0)]

_Loc: TypeAlias = tuple[str | int, ...]
_Problem: TypeAlias = tuple[_Loc, str]


def _fail(problems: list[_Problem]) -> None:
    """Raise one pydantic error that carries every cross-field problem with its own path."""
    if problems:
        summary = "; ".join(f"{_format_loc(loc)}: {text}" for loc, text in problems)
        kind = "policy_rules"
        raise PydanticCustomError(
            kind, "{summary}", {"summary": summary, "problems": tuple(problems)}
        )


class _Rules(BaseModel):
    model_config = _CONFIG


class SegmentChoice(_Rules):
    """A yes/no policy choice made separately for consumers and businesses.

    Attributes
    ----------
    b2c : bool
        The choice for consumers (segment ``"B2C"``).
    b2b : bool
        The choice for businesses (segment ``"B2B"``).

    Examples
    --------
    >>> SegmentChoice(b2c=False, b2b=True).for_segment("B2B")
    True
    """

    b2c: StrictBool
    b2b: StrictBool

    def for_segment(self, segment: Segment) -> bool:
        """The choice for ``segment`` (``"B2C"`` or ``"B2B"``).

        Examples
        --------
        >>> SegmentChoice(b2c=True, b2b=False).for_segment("B2C")
        True
        """
        if segment == "B2C":
            return self.b2c
        if segment == "B2B":
            return self.b2b
        msg = f"unknown segment {segment!r}: expected 'B2C' or 'B2B'."
        raise PolicyError(msg, field="segment")


class CalendarRule(_Rules):
    """The business-day calendar on which deadlines and due dates are rolled.

    Attributes
    ----------
    country : str
        ISO 3166-1 alpha-2 code (``"DE"``, ``"GB"``). Default: the policy's jurisdiction.
    subdivision : str or None
        A state or nation of that country: German states as ``"BY"``, ``"NW"``, ``"BE"``
        ...; UK nations as ``"ENG"``, ``"NIR"``, ``"SCT"``, ``"WLS"``. ``None``: nationwide
        holidays only. Default: ``None`` for Germany, ``"ENG"`` for the UK.

    Examples
    --------
    >>> CalendarRule(country="DE", subdivision="NW").build()
    BusinessCalendar(country='DE', subdivision='NW')
    """

    country: Annotated[StrictStr, Field(min_length=2, max_length=2)]
    subdivision: _Text | None = None

    @model_validator(mode="after")
    def _known(self) -> CalendarRule:
        try:
            self.build()
        except PolicyError as exc:
            _fail([((exc.field or "country",), str(exc))])
        return self

    def build(self) -> BusinessCalendar:
        """The :class:`~dunning.calendar.BusinessCalendar` this rule describes.

        Examples
        --------
        >>> CalendarRule(country="GB", subdivision="ENG").build().country
        'GB'
        """
        return BusinessCalendar(self.country, self.subdivision)


class LevelRule(_Rules):
    """One dunning level (Mahnstufe): when it is due, what it costs, how it is sent.

    A level is due for an invoice when its days overdue reach ``days_after_due`` (where
    set) **and** at least ``days_after_previous`` days have passed since the letter of the
    level before (levels 2 to 5); a run moves an invoice at most one level up.

    Attributes
    ----------
    level : int
        1 to 5. The levels of a policy are numbered 1, 2, 3 ... in order, without gaps.
    name_de, name_en : str
        The level's name in German and English, as printed on letters and reports
        (e.g. "Zahlungserinnerung" / "payment reminder").
    days_after_due : int or None
        Days overdue (calendar days after the due date) from which the level is due;
        required for level 1, optional for later levels; strictly increasing over the
        levels that set it. Unit: days, at least 1.
    days_after_previous : int or None
        Minimum calendar days since the previous level's letter; required for levels 2 to
        5, not allowed on level 1; at least the policy's ``min_days_between_letters`` and
        more than the previous level's ``deadline_days``.
    fee_b2c, fee_b2b : Decimal
        Dunning fee charged with this level to consumers / businesses, in the policy
        currency, >= 0; default 0. Consumer fees are at most ``consumer_fee_cap`` and
        must be 0 on level 1.
    channels : tuple of {"email", "letter", "sms"}
        Channels allowed for this level, in order of preference; at least one, no
        duplicates.
    tone : {"friendly", "neutral", "firm"}
        Tone of the letter.
    automatic : bool
        Whether the rules may issue this level without a clerk's approval. Default: true
        for levels 1 to 4, false for level 5; level 5 can never be automatic.
    deadline_days : int
        Payment deadline printed on the letter: calendar days after the letter date,
        rolled to the next business day (§ 193 BGB). At least 1.
    letter_of_claim : bool
        The letter is a Letter of Claim under the UK Pre-Action Protocol for Debt Claims
        (only for ``jurisdiction = "GB"``; ``deadline_days`` at least 30). Default false.

    Examples
    --------
    >>> rule = LevelRule(level=1, name_de="Zahlungserinnerung", name_en="payment reminder",
    ...                  days_after_due=1, channels=("email", "letter"), tone="friendly",
    ...                  deadline_days=10)
    >>> rule.automatic, rule.fee_b2c
    (True, Decimal('0'))
    """

    level: _Level
    name_de: _Text
    name_en: _Text
    days_after_due: _PositiveDays | None = None
    days_after_previous: _PositiveDays | None = None
    fee_b2c: _Money = Decimal(0)
    fee_b2b: _Money = Decimal(0)
    channels: tuple[Channel, ...]
    tone: Tone
    automatic: StrictBool = True
    deadline_days: _PositiveDays
    letter_of_claim: StrictBool = False

    @model_validator(mode="before")
    @classmethod
    def _default_automatic(cls, data: Any) -> Any:
        # A hand-over (level 5) is never automatic unless the file says so (and then fails).
        if isinstance(data, Mapping) and "automatic" not in data:
            return {**data, "automatic": data.get("level") != MAX_LEVEL}
        return data

    @model_validator(mode="after")
    def _timing(self) -> LevelRule:
        problems: list[_Problem] = []
        if self.level == 1:
            if self.days_after_due is None:
                problems.append(
                    (("days_after_due",), "level 1 needs days_after_due (days overdue).")
                )
            if self.days_after_previous is not None:
                problems.append(
                    (
                        ("days_after_previous",),
                        "level 1 has no previous level; remove days_after_previous.",
                    )
                )
        elif self.days_after_previous is None:
            problems.append(
                (
                    ("days_after_previous",),
                    f"level {self.level} needs days_after_previous (days since the previous "
                    "level's letter).",
                )
            )
        if self.level == MAX_LEVEL and self.automatic:
            problems.append(
                (
                    ("automatic",),
                    "level 5 (hand-over to a collection agency or court) is never automatic: "
                    "it needs a recorded human decision. Set automatic = false.",
                )
            )
        if not self.channels:
            problems.append((("channels",), "name at least one channel (email, letter, sms)."))
        if len(set(self.channels)) != len(self.channels):
            problems.append((("channels",), f"channels repeat: {list(self.channels)}."))
        _fail(problems)
        return self

    def fee(self, segment: Segment) -> Decimal:
        """The fee of this level for ``segment`` (``"B2C"`` or ``"B2B"``).

        Examples
        --------
        >>> Policy.default("DE").level_rule(3).fee("B2C")
        Decimal('1.00')
        """
        return self.fee_b2c if segment == "B2C" else self.fee_b2b

    def name(self, lang: Literal["de", "en"]) -> str:
        """The level's name in ``lang``.

        Examples
        --------
        >>> Policy.default("DE").level_rule(4).name("en")
        'final notice'
        """
        return self.name_de if lang == "de" else self.name_en


class ActionCosts(_Rules):
    """Incremental internal cost of an offer, over a plain demand for payment.

    Stated assumptions for the expected-value comparison of offers, in the policy currency.

    Attributes
    ----------
    installment_plan : Decimal
        Setting up and monitoring an installment plan. Default 15.00.
    deferral : Decimal
        Granting a payment deferral (new due date). Default 5.00.
    handover : Decimal
        Handing the claim over to a collection agency, net of what the debtor reimburses.
        Default 30.00.

    Examples
    --------
    >>> ActionCosts().installment_plan
    Decimal('15.00')
    """

    installment_plan: _Money = Decimal("15.00")
    deferral: _Money = Decimal("5.00")
    handover: _Money = Decimal("30.00")


class RecoveryUplift(_Rules):
    """Assumed rise in the probability of recovery an offer brings (a stated assumption).

    The probability of recovery without an offer is ``1 - risk`` (the model's probability
    that the invoice stays unpaid); an offer adds these points, capped at 1.

    Attributes
    ----------
    installment_plan : float
        Added by an installment plan, 0 to 1. Default 0.15.
    deferral : float
        Added by a payment deferral, 0 to 1. Default 0.05.

    Examples
    --------
    >>> RecoveryUplift().installment_plan
    0.15
    """

    installment_plan: _Share = 0.15
    deferral: _Share = 0.05


_ASSUMPTIONS = (
    "Recovery without an offer is 1 - risk (the model's probability that the invoice stays "
    "unpaid). An installment plan adds 15 points, a deferral 5 points (own estimates; "
    "calibrate them on the history of accepted offers). Costs are the internal handling "
    "costs an offer adds to a plain demand for payment."
)


class OfferRules(_Rules):
    """Which cases are offered an installment plan or a deferral, and on what terms.

    Attributes
    ----------
    installment_min_total : Decimal
        Smallest case total offered an installment plan, in the policy currency. Default
        500.00.
    installment_risk_range : tuple of (float, float)
        Risk scores (inclusive) for which a plan is offered: low-risk customers pay anyway,
        high-risk ones rarely keep a plan. ``0 <= low <= high <= 1``. Default (0.2, 0.7).
    installment_min_level : int
        Lowest case level offered a plan (a payment reminder only asks for payment).
        Default 2; must be a level of the policy.
    installments : int
        Number of monthly instalments offered, 2 to 60. Default 3.
    min_installment : Decimal
        Smallest instalment amount; ``installments x min_installment`` must not exceed
        ``installment_min_total``. Default 50.00.
    deferral_days : int
        A deferral moves the due date this many calendar days after the letter date,
        rolled to a business day. 1 to 365; default 14.
    segments : tuple of {"B2C", "B2B"}
        Segments that may receive offers; empty: no offers. Default both.
    max_broken_promises : int
        Customers with more broken payment promises get no offer. Default 0.
    max_earlier_plans : int
        Customers with more earlier installment plans get no new one. Default 1.
    high_clv_share : float
        Share of customers with the highest CLV treated as "high CLV" in the rules and the
        trace (0.2: the top fifth). Default 0.2.
    costs : ActionCosts
        Incremental cost of each kind of offer (stated assumptions).
    recovery_uplift : RecoveryUplift
        Assumed rise in the probability of recovery per kind of offer.
    assumptions : str
        The assumptions behind the expected-value comparison, in words, for reports.

    Examples
    --------
    >>> OfferRules().installment_risk_range
    (0.2, 0.7)
    """

    installment_min_total: _Money = Decimal("500.00")
    installment_risk_range: tuple[_Share, _Share] = (0.2, 0.7)
    installment_min_level: _Level = 2
    installments: Annotated[StrictInt, Field(ge=2, le=60)] = 3
    min_installment: _Money = Decimal("50.00")
    deferral_days: Annotated[StrictInt, Field(ge=1, le=365)] = 14
    segments: tuple[Segment, ...] = ("B2C", "B2B")
    max_broken_promises: _Count = 0
    max_earlier_plans: _Count = 1
    high_clv_share: _Share = 0.2
    costs: ActionCosts = ActionCosts()
    recovery_uplift: RecoveryUplift = RecoveryUplift()
    assumptions: _Text = _ASSUMPTIONS

    @model_validator(mode="after")
    def _consistent(self) -> OfferRules:
        problems: list[_Problem] = []
        low, high = self.installment_risk_range
        if low > high:
            problems.append(
                (("installment_risk_range",), f"low end {low} is above the high end {high}.")
            )
        smallest = self.installments * self.min_installment
        if smallest > self.installment_min_total:
            problems.append(
                (
                    ("min_installment",),
                    f"{self.installments} instalments of at least {self.min_installment} need "
                    f"{smallest}, more than installment_min_total {self.installment_min_total}; "
                    "lower min_installment or installments, or raise installment_min_total.",
                )
            )
        if len(set(self.segments)) != len(self.segments):
            problems.append((("segments",), f"segments repeat: {list(self.segments)}."))
        _fail(problems)
        return self


class ReviewRules(_Rules):
    """Which proposed decisions go to a clerk before anything is sent.

    Attributes
    ----------
    exposure_limit : Decimal
        Cases whose amount due is at or above this go to review (policy currency).
        Default 10000.00.
    flag_threshold : float
        Risk score from which a case counts as high risk. Default 0.5.
    uncertainty_band : float
        Cases with ``|risk - flag_threshold| <= uncertainty_band`` are uncertain and go to
        review; 0 to 0.5, default 0.05.
    route_disputes : bool
        Disputed invoices go to review. Default true.
    dispute_scope : {"invoice", "customer"}
        ``"invoice"`` (default): a disputed invoice is never dunned and waits for a clerk,
        while the customer's undisputed invoices are dunned as usual (the common practice
        of ERP dunning runs). ``"customer"``: the letter about the other invoices of a
        customer with an open dispute goes to review as well (``DISPUTE``).
    route_vulnerable : bool
        Customers marked vulnerable go to review. Default true.
    route_anomalies : bool
        Cases with an anomaly flag go to review. Default true.
    route_data_gaps : bool
        Cases with too many missing inputs go to review. Default true.
    max_missing_share : float
        A data gap: more than this share of the model's features is missing. Default 0.2.
    route_drift_alarm : bool
        While a drift alarm is raised, every scored case goes to review. Default true.
    target_share : float
        Expected share of cases routed to review, reported beside the actual share
        (around a fifth is typical). Default 0.2.
    max_share : float
        Share above which the run report warns that review capacity is exceeded (cases are
        still routed). At least ``target_share``; default 0.35.

    Examples
    --------
    >>> ReviewRules().uncertainty_band
    0.05
    """

    exposure_limit: _Money = Decimal("10000.00")
    flag_threshold: _Share = 0.5
    uncertainty_band: Annotated[float, Field(ge=0, le=0.5)] = 0.05
    route_disputes: StrictBool = True
    dispute_scope: Literal["invoice", "customer"] = "invoice"
    route_vulnerable: StrictBool = True
    route_anomalies: StrictBool = True
    route_data_gaps: StrictBool = True
    max_missing_share: _Share = 0.2
    route_drift_alarm: StrictBool = True
    target_share: _Share = 0.2
    max_share: _Share = 0.35

    @model_validator(mode="after")
    def _shares(self) -> ReviewRules:
        if self.target_share > self.max_share:
            _fail(
                [
                    (
                        ("max_share",),
                        f"max_share {self.max_share} is below target_share {self.target_share}.",
                    )
                ]
            )
        return self


class ChannelCosts(_Rules):
    """Cost of sending one letter by each channel, in the policy currency (assumptions).

    Attributes
    ----------
    email : Decimal
        Default 0.00.
    letter : Decimal
        Print, envelope and postage. Default 1.10.
    sms : Decimal
        Default 0.09.

    Examples
    --------
    >>> ChannelCosts().letter
    Decimal('1.10')
    """

    email: _Money = Decimal("0.00")
    letter: _Money = Decimal("1.10")
    sms: _Money = Decimal("0.09")

    def cost(self, channel: Channel) -> Decimal:
        """The cost of one message by ``channel``.

        Examples
        --------
        >>> ChannelCosts().cost("sms")
        Decimal('0.09')
        """
        return {"email": self.email, "letter": self.letter, "sms": self.sms}[channel]


_HELP_DE = (
    "Sie können gerade nicht zahlen? Dann sprechen Sie bitte mit uns. Wir suchen gemeinsam "
    "eine Lösung, zum Beispiel eine Ratenzahlung. Kostenlose und unabhängige Hilfe gibt es "
    "auch bei einer Schuldnerberatung, etwa bei der Verbraucherzentrale oder bei Ihrer Stadt."
)
_HELP_EN = (
    "If you cannot pay at the moment, please talk to us: we will look for a solution "
    "together, for example a payment plan. Free, independent debt advice is also available "
    "from public debt advice services."
)
_MUST_STAY_ON = (
    "cannot be switched off: vulnerable customers are never escalated automatically and "
    "always get the gentle tone and the help-line paragraph (human oversight; FCA CONC 7)."
)


class ToneChannelRules(_Rules):
    """How tone and channel are chosen beyond the level's own settings.

    Attributes
    ----------
    vulnerable_hold_escalation : bool
        A customer marked vulnerable is never moved to a higher level automatically.
        Must be true.
    vulnerable_gentle_tone : bool
        A vulnerable customer always gets ``gentle_tone``. Must be true.
    vulnerable_help_line : bool
        A vulnerable customer's letter always carries the help-line paragraph. Must be true.
    gentle_tone : {"friendly", "neutral", "firm"}
        The tone used for vulnerable customers. Must be ``"friendly"``.
    help_line_de, help_line_en : str
        The help-line paragraph (where to get help, free debt advice) in German and English.
    gentle_tone_clv_share : float
        Customers in this top share of CLV get one step gentler tone than the level's
        (never below friendly); 0 switches it off. Default 0.2.
    consent_required : tuple of {"email", "letter", "sms"}
        Channels used only with the customer's recorded consent. Default ("email", "sms").
    fallback_channel : {"email", "letter", "sms"}
        Channel used when none of the level's channels is allowed for the customer; must not
        need consent. Default ``"letter"``.
    channel_costs : ChannelCosts
        Cost of one message per channel (the cheaper allowed channel wins a tie).

    Examples
    --------
    >>> ToneChannelRules().fallback_channel
    'letter'
    """

    vulnerable_hold_escalation: StrictBool = True
    vulnerable_gentle_tone: StrictBool = True
    vulnerable_help_line: StrictBool = True
    gentle_tone: Tone = "friendly"
    help_line_de: _Text = _HELP_DE
    help_line_en: _Text = _HELP_EN
    gentle_tone_clv_share: _Share = 0.2
    consent_required: tuple[Channel, ...] = ("email", "sms")
    fallback_channel: Channel = "letter"
    channel_costs: ChannelCosts = ChannelCosts()

    @model_validator(mode="after")
    def _protect_vulnerable(self) -> ToneChannelRules:
        problems: list[_Problem] = [
            ((name,), f"{name} {_MUST_STAY_ON}")
            for name in (
                "vulnerable_hold_escalation",
                "vulnerable_gentle_tone",
                "vulnerable_help_line",
            )
            if not getattr(self, name)
        ]
        if self.gentle_tone != "friendly":
            problems.append((("gentle_tone",), f"gentle_tone must be 'friendly' ({_MUST_STAY_ON})"))
        if self.fallback_channel in self.consent_required:
            problems.append(
                (
                    ("fallback_channel",),
                    f"the fallback channel {self.fallback_channel!r} itself needs consent; "
                    "choose one that does not (usually 'letter').",
                )
            )
        _fail(problems)
        return self


class Policy(_Rules):
    """The dunning policy: all business rules of a run, validated and immutable.

    Load it with :meth:`from_file` (TOML or YAML), :meth:`from_dict` or :meth:`default`;
    ``docs/policy.md`` shows complete files. Amounts are ``Decimal`` in ``currency``.

    Attributes
    ----------
    name : str
        Human-readable name, printed in reports ("Standard Deutschland").
    version : str
        Your version label ("2026.1"); the content hash is :attr:`version_id`.
    jurisdiction : {"DE", "GB"}
        Whose law applies: statutory interest, fees and letter rules.
    currency : str
        ISO 4217 code of every amount in the policy. Default: EUR for DE, GBP for GB; any
        other known currency is accepted and noted in :meth:`advisories`.
    calendar : CalendarRule
        Business-day calendar (country, subdivision). Default: the jurisdiction's country;
        England for GB.
    grace_days : int
        Calendar days after the due date during which no letter is sent (payments in
        transit); level 1's ``days_after_due`` must be greater. 0 to 365; default 0.
    min_open_amount : Decimal
        Invoices (or cases, with ``case_grouping = "customer"``) with a smaller open amount
        are not dunned. Default 5.00.
    min_days_between_letters : int
        Minimum calendar days between two letters about the same invoice; every level's
        ``days_after_previous`` must be at least this. Default 14.
    case_grouping : {"customer", "invoice"}
        One case and letter per customer listing all overdue invoices (the case level is
        the highest), or one per invoice. Default ``"customer"``.
    levels : tuple of LevelRule
        The dunning levels, numbered 1, 2, 3 ... without gaps (at most 5), with
        ``days_after_due`` strictly increasing where set. Required.
    consumer_fee_cap : Decimal
        Highest dunning fee per letter a consumer may be charged. Default 2.50. Only the
        creditor's actual costs may be charged: the BGH (VIII ZR 95/18) recognised about
        € 0.76 of real cost per letter and rejected € 2.50; € 2.50 is a common tool default,
        not a legal limit.
    claim_interest : SegmentChoice
        Whether statutory default interest is claimed from consumers / businesses (a policy
        choice: many firms waive it for good customers). Required. GB: never from consumers.
    claim_flat_fee : SegmentChoice
        Whether the statutory flat fee is claimed: € 40 under § 288 (5) BGB, £ 40 / £ 70 /
        £ 100 under the 1998 Act; businesses only (``b2c`` must be false). Required.
    interest_day_count : {"act/365", "act/act"}
        Day count for interest (see :mod:`dunning.interest`). Default ``"act/365"``.
    allow_unconfirmed_base_rate : bool
        Use base-rate rows marked ``confirmed=false`` in the rate table. Default false.
    payment_allocation : {"bgb_367", "consumer_loan"}
        Order in which part-payments are applied: costs, interest, principal (§ 367 BGB)
        or costs, principal, interest (§ 497 (3) BGB). Default ``"bgb_367"``.
    interest_survives_principal_payment : bool
        Whether interest accrued stays owed once the principal is paid. Required: an
        explicit choice, never an accident.
    offers : OfferRules
        Installment plans and deferrals.
    review : ReviewRules
        Routing of cases to human review.
    tone_and_channel : ToneChannelRules
        Tone and channel rules, vulnerable customers.

    Raises
    ------
    PolicyValidationError
        From :meth:`from_file`, :meth:`from_dict` and :meth:`default`, listing every problem
        with its field path. (Constructing ``Policy(...)`` directly raises pydantic's
        ``ValidationError``.)

    Examples
    --------
    >>> policy = Policy.default("GB")
    >>> policy.currency, policy.calendar.subdivision, policy.claims_interest("B2C")
    ('GBP', 'ENG', False)
    >>> [rule.level for rule in policy.levels if rule.letter_of_claim]
    [4]

    Field types and ranges are checked first, rules across fields once the types are right:

    >>> data = Policy.default("DE").to_dict()
    >>> data["grace_days"] = -3
    >>> data["levels"][2]["fee_b2c"] = "3.00"
    >>> Policy.from_dict(data, source="my-policy.toml")
    Traceback (most recent call last):
    ...
    dunning.policy.PolicyValidationError: policy my-policy.toml is invalid (1 problem):
      - grace_days: input should be greater than or equal to 0, got -3.
    Correct the field(s) named and load the policy again; docs/policy.md describes every field.
    >>> data["grace_days"] = 0
    >>> Policy.from_dict(data, source="my-policy.toml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dunning.policy.PolicyValidationError: policy my-policy.toml is invalid (1 problem):
      - levels[2].fee_b2c: 3.00 is above consumer_fee_cap 2.50; lower the fee or ...
    Correct the field(s) named and load the policy again; docs/policy.md describes every field.
    """

    name: _Text
    version: _Text
    jurisdiction: Jurisdiction
    currency: Annotated[StrictStr, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    calendar: CalendarRule = Field(default_factory=lambda: CalendarRule(country="DE"))
    grace_days: Annotated[StrictInt, Field(ge=0, le=365)] = 0
    min_open_amount: _Money = Decimal("5.00")
    min_days_between_letters: _PositiveDays = 14
    case_grouping: CaseGrouping = "customer"
    levels: Annotated[tuple[LevelRule, ...], Field(min_length=1, max_length=MAX_LEVEL)]
    consumer_fee_cap: _Money = Decimal("2.50")
    claim_interest: SegmentChoice
    claim_flat_fee: SegmentChoice
    interest_day_count: DayCount = "act/365"
    allow_unconfirmed_base_rate: StrictBool = False
    payment_allocation: PaymentAllocation = "bgb_367"
    interest_survives_principal_payment: StrictBool
    offers: OfferRules = OfferRules()
    review: ReviewRules = ReviewRules()
    tone_and_channel: ToneChannelRules = ToneChannelRules()

    # -- validation -----------------------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _jurisdiction_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        jurisdiction = data.get("jurisdiction")
        if not isinstance(jurisdiction, str) or jurisdiction not in DEFAULT_CURRENCY:
            return data
        filled = dict(data)
        filled.setdefault("currency", DEFAULT_CURRENCY[jurisdiction])
        calendar = filled.get("calendar")
        if calendar is None:
            filled["calendar"] = {
                "country": jurisdiction,
                "subdivision": _DEFAULT_SUBDIVISION[jurisdiction],
            }
        elif isinstance(calendar, Mapping) and "country" not in calendar:
            filled["calendar"] = {"country": jurisdiction, **calendar}
        return filled

    @model_validator(mode="after")
    def _cross_field(self) -> Policy:
        problems = [*self._level_problems(), *self._legal_problems(), *self._money_problems()]
        _fail(sorted(problems, key=lambda problem: _format_loc(problem[0])))
        return self

    def _level_problems(self) -> Iterator[_Problem]:
        previous_due: tuple[int, int] | None = None
        for index, rule in enumerate(self.levels):
            at = ("levels", index)
            if rule.level != index + 1:
                yield (
                    (*at, "level"),
                    f"expected level {index + 1} here, got {rule.level}: levels are numbered "
                    "1, 2, 3 ... in order, without gaps.",
                )
            if rule.days_after_due is not None:
                if previous_due is not None and rule.days_after_due <= previous_due[1]:
                    yield (
                        (*at, "days_after_due"),
                        f"{rule.days_after_due} is not after levels[{previous_due[0]}]."
                        f"days_after_due {previous_due[1]}; the days must increase level by "
                        "level.",
                    )
                previous_due = (index, rule.days_after_due)
            if (
                index == 0
                and rule.days_after_due is not None
                and rule.days_after_due <= self.grace_days
            ):
                yield (
                    (*at, "days_after_due"),
                    f"{rule.days_after_due} falls within grace_days {self.grace_days}; "
                    "the first level must come after the grace days.",
                )
            if rule.days_after_previous is not None:
                if rule.days_after_previous < self.min_days_between_letters:
                    yield (
                        (*at, "days_after_previous"),
                        f"{rule.days_after_previous} is below min_days_between_letters "
                        f"{self.min_days_between_letters}.",
                    )
                if index > 0 and rule.days_after_previous <= self.levels[index - 1].deadline_days:
                    yield (
                        (*at, "days_after_previous"),
                        f"{rule.days_after_previous} does not leave the payment deadline of "
                        f"levels[{index - 1}] ({self.levels[index - 1].deadline_days} days) "
                        "to run out first; make it longer.",
                    )
        if self.offers.installment_min_level > len(self.levels):
            yield (
                ("offers", "installment_min_level"),
                f"{self.offers.installment_min_level} is not a level of this policy "
                f"(levels 1 to {len(self.levels)}).",
            )

    def _legal_problems(self) -> Iterator[_Problem]:
        for index, rule in enumerate(self.levels):
            at = ("levels", index)
            if rule.fee_b2c > self.consumer_fee_cap:
                yield (
                    (*at, "fee_b2c"),
                    f"{rule.fee_b2c} is above consumer_fee_cap {self.consumer_fee_cap}; lower "
                    "the fee or (with counsel's approval) raise the cap.",
                )
            if rule.level == 1 and rule.fee_b2c > 0:
                yield (
                    (*at, "fee_b2c"),
                    f"{rule.fee_b2c}: no fee may be charged to a consumer for the first "
                    "reminder, which usually puts the debtor in default (its cost is not "
                    "recoverable; BGH VIII ZR 95/18). Set it to 0.",
                )
            if rule.letter_of_claim:
                if self.jurisdiction != "GB":
                    yield (
                        (*at, "letter_of_claim"),
                        "a Letter of Claim (UK Pre-Action Protocol for Debt Claims) needs "
                        "jurisdiction = 'GB'.",
                    )
                if rule.deadline_days < _LETTER_OF_CLAIM_DAYS:
                    yield (
                        (*at, "deadline_days"),
                        f"{rule.deadline_days}: a Letter of Claim gives the debtor "
                        f"{_LETTER_OF_CLAIM_DAYS} days to reply (Pre-Action Protocol for Debt "
                        "Claims).",
                    )
        if self.claim_flat_fee.b2c:
            yield (
                ("claim_flat_fee", "b2c"),
                "the statutory flat fee is owed by businesses only (§ 288 (5) BGB; "
                "Late Payment of Commercial Debts (Interest) Act 1998, s. 5A). Set it to false.",
            )
        if self.jurisdiction == "GB" and self.claim_interest.b2c:
            yield (
                ("claim_interest", "b2c"),
                "UK statutory interest (Late Payment of Commercial Debts (Interest) Act 1998) "
                "applies to business debts only. Set it to false.",
            )

    def _money_problems(self) -> Iterator[_Problem]:
        if not is_known_currency(self.currency):
            yield (
                ("currency",),
                f"unknown currency {self.currency!r}: expected an ISO 4217 code such as EUR "
                "or GBP.",
            )
            return
        places = minor_units(self.currency)
        for loc, amount in _amounts(self, ()):
            exponent = amount.as_tuple().exponent
            if isinstance(exponent, int) and -exponent > places:
                yield (
                    loc,
                    f"{amount} has more decimals than {self.currency} allows ({places}).",
                )

    # -- loading --------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> Policy:
        """Validate a policy given as a mapping (e.g. parsed TOML, YAML or JSON).

        Parameters
        ----------
        data : mapping
            The policy's fields; amounts as ``Decimal``, ``int``, exact strings ("2.50") or
            floats (read by their shortest repr).
        source : str
            Where the data came from, named in error messages.

        Returns
        -------
        Policy

        Raises
        ------
        PolicyValidationError
            Listing every problem with its field path.

        Examples
        --------
        >>> data = Policy.default("DE").to_dict()
        >>> Policy.from_dict(data) == Policy.default("DE")
        True
        >>> data["grace_dayz"] = 3
        >>> Policy.from_dict(data)
        Traceback (most recent call last):
        ...
        dunning.policy.PolicyValidationError: policy <dict> is invalid (1 problem):
          - grace_dayz: unknown field; did you mean 'grace_days'?
        Correct the field(s) named and load the policy again; docs/policy.md describes every field.
        """
        if not isinstance(data, Mapping):
            msg = (
                f"policy {source}: expected a mapping of fields at the top level, got "
                f"{type(data).__name__}."
            )
            raise PolicyValidationError(msg, source=source, problems=())
        try:
            policy = cls.model_validate(dict(data))
        except ValidationError as exc:
            raise PolicyValidationError.from_validation_error(exc, source=source) from None
        for note in policy.advisories():
            logger.warning("policy %s: %s", source, note)
        return policy

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        """Load and validate a policy file: TOML (``.toml``) or YAML (``.yaml``, ``.yml``).

        TOML numbers with a decimal point are read as ``Decimal``, so ``fee_b2c = 2.50`` is
        exactly 2.50. This is how to check a policy file before a run.

        Parameters
        ----------
        path : str or pathlib.Path
            The policy file.

        Returns
        -------
        Policy

        Raises
        ------
        PolicyValidationError
            If the file is missing, unreadable, not valid TOML/YAML, or the policy is
            invalid (every problem listed with its field path and the file).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> path = folder / "policy.toml"
        >>> _ = path.write_text('name = "x"\\nversion = "1"\\njurisdiction = "DE"\\n')
        >>> Policy.from_file(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dunning.policy.PolicyValidationError: policy .../policy.toml is invalid (4 problems):
          - levels: required field is missing.
          - claim_interest: required field is missing.
          - claim_flat_fee: required field is missing.
          - interest_survives_principal_payment: required field is missing.
        Correct the field(s) named and load the policy again; docs/policy.md describes every field.
        """
        file = Path(path)
        source = str(file)
        suffix = file.suffix.lower()
        if suffix not in (".toml", ".yaml", ".yml"):
            msg = f"policy file {source}: unknown format {suffix!r}; use .toml, .yaml or .yml."
            raise PolicyValidationError(msg, source=source, problems=())
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"cannot read policy file {source}: {exc}."
            raise PolicyValidationError(msg, source=source, problems=()) from exc
        data = _parse_toml(text, source) if suffix == ".toml" else _parse_yaml(text, source)
        return cls.from_dict(data, source=source)

    @classmethod
    def default(cls, jurisdiction: str = "DE") -> Policy:
        """The policy shipped with the package for ``jurisdiction`` (``"DE"`` or ``"GB"``).

        Read from ``dunning/data/policies/de.toml`` or ``uk.toml``; copy one as the
        starting point of your own policy.

        Raises
        ------
        PolicyError
            If there is no default for ``jurisdiction``.

        Examples
        --------
        >>> Policy.default("DE").name
        'Standard Deutschland'
        >>> Policy.default("UK")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dunning.errors.PolicyError: no default policy for 'UK': use 'GB' (ISO 3166) for ...
        """
        return _default(jurisdiction)

    @classmethod
    def default_text(cls, jurisdiction: str = "DE") -> str:
        """The TOML text of the default policy for ``jurisdiction``, comments included.

        Examples
        --------
        >>> Policy.default_text("GB").splitlines()[0]
        '# Default dunning policy for the United Kingdom: Policy.default("GB").'
        """
        if jurisdiction not in _PACKAGED:
            hint = (
                "use 'GB' (ISO 3166) for the United Kingdom."
                if jurisdiction.upper() == "UK"
                else f"expected one of {sorted(_PACKAGED)}."
            )
            msg = f"no default policy for {jurisdiction!r}: {hint}"
            raise PolicyError(msg, field="jurisdiction")
        resource = files("dunning").joinpath("data", "policies", _PACKAGED[jurisdiction])
        return resource.read_text(encoding="utf-8")

    def replace(self, **changes: Any) -> Policy:
        """A validated copy with some top-level fields changed (for what-if comparisons).

        Unlike ``model_copy(update=...)``, the result is validated like a loaded file.

        Raises
        ------
        PolicyValidationError
            If the changed policy is invalid.

        Examples
        --------
        >>> policy = Policy.default("DE").replace(min_open_amount=Decimal("10.00"))
        >>> policy.min_open_amount, policy.version_id == Policy.default("DE").version_id
        (Decimal('10.00'), False)
        >>> Policy.default("DE").replace(grace_days=3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dunning.policy.PolicyValidationError: policy Standard Deutschland 2026.1 (changed) is ...
          - levels[0].days_after_due: 1 falls within grace_days 3; the first level must come ...
        Correct the field(s) named and load the policy again; docs/policy.md describes every field.
        """
        return type(self).from_dict(
            {**self.model_dump(), **changes}, source=f"{self.name} {self.version} (changed)"
        )

    # -- output ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The policy as plain JSON-compatible data (amounts as exact strings).

        ``Policy.from_dict(policy.to_dict()) == policy`` always holds.

        Examples
        --------
        >>> Policy.default("DE").to_dict()["consumer_fee_cap"]
        '2.50'
        """
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """The canonical JSON of the policy (sorted keys, amounts normalised); see
        :attr:`version_id`.

        Examples
        --------
        >>> Policy.default("DE").to_json()[:30]
        '{"allow_unconfirmed_base_rate"'
        """
        return json.dumps(
            _canonical(self.model_dump(mode="python")),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @property
    def version_id(self) -> str:
        """SHA-256 (hex) of :meth:`to_json`: identifies the policy's content exactly.

        Equal policies have equal ids (``2.5`` and ``2.50`` are the same amount); any change
        of a field changes it. Kept with every decision; show the first 12 characters in
        reports.

        Examples
        --------
        >>> policy = Policy.default("DE")
        >>> policy.version_id == Policy.default("DE").version_id
        True
        >>> policy.model_copy(update={"grace_days": 3}).version_id == policy.version_id
        False
        """
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    # -- convenience ----------------------------------------------------------------------

    @property
    def max_level(self) -> int:
        """The highest level of the policy.

        Examples
        --------
        >>> Policy.default("DE").max_level
        5
        """
        return len(self.levels)

    @property
    def max_automatic_level(self) -> int:
        """The highest level reached by automatic levels only (all of 1 .. L automatic).

        Examples
        --------
        >>> Policy.default("DE").max_automatic_level, Policy.default("GB").max_automatic_level
        (4, 3)
        """
        reached = 0
        for rule in self.levels:
            if not rule.automatic:
                break
            reached = rule.level
        return reached

    def level_rule(self, level: int) -> LevelRule:
        """The rule of ``level`` (1 .. :attr:`max_level`).

        Raises
        ------
        PolicyError
            If the policy has no such level.

        Examples
        --------
        >>> Policy.default("DE").level_rule(1).name_de
        'Zahlungserinnerung'
        """
        if isinstance(level, bool) or not 1 <= int(level) <= len(self.levels):
            msg = f"level {level!r} is not a level of policy {self.name!r} (1 to {self.max_level})."
            raise PolicyError(msg, field="levels")
        return self.levels[int(level) - 1]

    def fee(self, level: int, segment: Segment) -> Decimal:
        """The dunning fee of ``level`` for ``segment``, in :attr:`currency`.

        Examples
        --------
        >>> Policy.default("DE").fee(1, "B2C"), Policy.default("DE").fee(2, "B2C")
        (Decimal('0.00'), Decimal('1.00'))
        """
        return self.level_rule(level).fee(segment)

    def claims_interest(self, segment: Segment) -> bool:
        """Whether statutory default interest is claimed from ``segment``.

        Examples
        --------
        >>> Policy.default("GB").claims_interest("B2B")
        True
        """
        return self.claim_interest.for_segment(segment)

    def claims_flat_fee(self, segment: Segment) -> bool:
        """Whether the statutory flat fee (€ 40 / £ 40-100) is claimed from ``segment``.

        Examples
        --------
        >>> Policy.default("DE").claims_flat_fee("B2C")
        False
        """
        return self.claim_flat_fee.for_segment(segment)

    def business_calendar(self) -> BusinessCalendar:
        """The business-day calendar of the policy.

        Examples
        --------
        >>> Policy.default("GB").business_calendar()
        BusinessCalendar(country='GB', subdivision='ENG')
        """
        return self.calendar.build()

    def letter_deadline(self, level: int, letter_date: date) -> date:
        """The payment deadline printed on a ``level`` letter dated ``letter_date``.

        ``deadline_days`` after the letter date, moved to the next business day (§ 193 BGB).

        Examples
        --------
        >>> from datetime import date
        >>> Policy.default("DE").letter_deadline(1, date(2026, 12, 15))  # 25 Dec -> 28 Dec
        datetime.date(2026, 12, 28)
        """
        return self.business_calendar().deadline(letter_date, self.level_rule(level).deadline_days)

    def advisories(self) -> tuple[str, ...]:
        """Concerns about the policy that are not errors, each naming its field.

        Logged as warnings when the policy is loaded. The shipped defaults have none.

        Examples
        --------
        >>> Policy.default("DE").advisories()
        ()
        >>> data = Policy.default("DE").to_dict()
        >>> data["consumer_fee_cap"] = "5.00"
        >>> [note[:56] for note in Policy.from_dict(data).advisories()]
        ['consumer_fee_cap: 5.00 is above the € 2.50 commonly used']
        """
        notes: list[str] = []
        if self.jurisdiction == "DE" and self.consumer_fee_cap > _DE_FEE_CAP_NOTE:
            notes.append(
                f"consumer_fee_cap: {self.consumer_fee_cap} is above the € 2.50 commonly used; "
                "the BGH (VIII ZR 95/18) recognised only about € 0.76 of real cost per letter. "
                "Charge consumers only your actual costs."
            )
        for index, rule in enumerate(self.levels):
            if rule.fee_b2c > 0 and "letter" not in rule.channels:
                notes.append(
                    f"levels[{index}].fee_b2c: {rule.fee_b2c} on a level sent only by "
                    f"{', '.join(rule.channels)}; consumers may be charged actual costs only, "
                    "and an e-mail or SMS costs next to nothing."
                )
            if self.jurisdiction == "DE" and rule.fee_b2b > 0 and self.claim_flat_fee.b2b:
                notes.append(
                    f"levels[{index}].fee_b2b: {rule.fee_b2b} beside the € 40 flat fee; dunning "
                    "costs are set off against the flat fee (§ 288 (5) sentence 3 BGB)."
                )
        if self.currency != DEFAULT_CURRENCY[self.jurisdiction]:
            notes.append(
                f"currency: {self.currency} differs from the usual "
                f"{DEFAULT_CURRENCY[self.jurisdiction]} for {self.jurisdiction}; statutory "
                "flat fees are fixed in the jurisdiction's currency."
            )
        if self.calendar.country != self.jurisdiction:
            notes.append(
                f"calendar.country: {self.calendar.country} differs from the jurisdiction "
                f"{self.jurisdiction}."
            )
        if not self.review.route_vulnerable:
            notes.append(
                "review.route_vulnerable: vulnerable customers are not routed to a clerk; "
                "human oversight of their cases is expected (FCA CONC 7, EU AI Act Art. 14)."
            )
        return tuple(notes)


class PolicyValidationError(PolicyError):
    """A policy could not be loaded: every problem found, with its field path.

    Parameters
    ----------
    message : str
        The full message, one line per problem.
    source : str
        The file (or ``"<dict>"``) the policy came from.
    problems : tuple of (str, str)
        ``(field path, what is wrong)`` pairs, e.g. ``("levels[2].fee_b2c", "3.00 is above
        consumer_fee_cap 2.50; ...")``. Empty when the file itself could not be read.

    Notes
    -----
    ``.field`` (from :class:`~dunning.errors.PolicyError`) is the first problem's path.
    """

    def __init__(self, message: str, *, source: str, problems: tuple[tuple[str, str], ...]) -> None:
        super().__init__(message, field=problems[0][0] if problems else None)
        self.source = source
        self.problems = problems

    @classmethod
    def from_validation_error(cls, exc: ValidationError, *, source: str) -> PolicyValidationError:
        """Turn pydantic's ``ValidationError`` for a :class:`Policy` into one readable error.

        Examples
        --------
        >>> from pydantic import ValidationError
        >>> try:
        ...     Policy.model_validate({"name": "x", "version": "1", "jurisdiction": "FR"})
        ... except ValidationError as exc:
        ...     err = PolicyValidationError.from_validation_error(exc, source="<dict>")
        >>> err.field, len(err.problems)
        ('jurisdiction', 5)
        """
        problems: list[tuple[str, str]] = []
        for error in exc.errors(include_url=False):
            loc: _Loc = tuple(error["loc"])
            if error["type"] == "policy_rules":
                for sub_loc, text in error["ctx"]["problems"]:
                    problems.append((_format_loc((*loc, *sub_loc)), text))
            else:
                problems.append((_format_loc(loc), _describe(error, loc)))
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        lines = "\n".join(f"  - {path}: {text}" for path, text in problems)
        msg = (
            f"policy {source} is invalid ({count}):\n{lines}\n"
            "Correct the field(s) named and load the policy again; docs/policy.md describes "
            "every field."
        )
        return cls(msg, source=source, problems=tuple(problems))


# -- helpers ---------------------------------------------------------------------------------


@cache
def _default(jurisdiction: str) -> Policy:
    text = Policy.default_text(jurisdiction)
    source = f"dunning/data/policies/{_PACKAGED[jurisdiction]}"
    return Policy.from_dict(_parse_toml(text, source), source=source)


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        msg = f"policy file {source} is not valid TOML: {exc}."
        raise PolicyValidationError(msg, source=source, problems=()) from exc


def _parse_yaml(text: str, source: str) -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - pyyaml is a dependency
        msg = f"policy file {source}: reading YAML needs PyYAML (pip install pyyaml)."
        raise PolicyValidationError(msg, source=source, problems=()) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"policy file {source} is not valid YAML: {exc}."
        raise PolicyValidationError(msg, source=source, problems=()) from exc


def _format_loc(loc: _Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<policy>"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (through Annotated, Optional, tuple)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin is None:
        return None
    if origin in (Union, types.UnionType, tuple, Annotated):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _fields_at(loc: _Loc) -> list[str]:
    model: type[BaseModel] | None = Policy
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field is not None else None
    return list(model.model_fields) if model is not None else []


def _describe(error: Any, loc: _Loc) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _fields_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        if close:
            return f"unknown field; did you mean {close[0]!r}?"
        return f"unknown field; the fields allowed here are {', '.join(known)}."
    if kind == "missing":
        return "required field is missing."
    text = str(error["msg"])
    text = text[:1].lower() + text[1:]
    if kind == "value_error" and text.startswith("value error, "):
        text = text.removeprefix("value error, ")
    hint = ""
    if kind == "string_type" and isinstance(error.get("input"), int | float | Decimal):
        hint = " (write it in quotes)"
    return f"{text}, got {error.get('input')!r}{hint}."


def _amounts(model: BaseModel, loc: _Loc) -> Iterator[tuple[_Loc, Decimal]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        here = (*loc, name)
        if isinstance(value, Decimal):
            yield here, value
        elif isinstance(value, BaseModel):
            yield from _amounts(value, here)
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _amounts(item, (*here, index))


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "0") else text
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value
