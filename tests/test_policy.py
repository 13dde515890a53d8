"""The dunning policy as configuration: defaults, loading, validation, version ids."""

from __future__ import annotations

import copy
import json
import logging
import re
import tomllib
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from pydantic import ValidationError

from dunning.calendar import BusinessCalendar
from dunning.errors import PolicyError
from dunning.policy import LevelRule, Policy, PolicyValidationError

REPO = Path(__file__).resolve().parents[1]

Mutation = Callable[[dict[str, Any]], None]


def _de() -> dict[str, Any]:
    return Policy.default("DE").to_dict()


def _write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# -- defaults ---------------------------------------------------------------------------------


def test_german_default_loads_with_the_documented_values() -> None:
    """The DE default: EUR, five levels, timing of dunning.levels, fees 0/1/1/1/0 for consumers."""
    policy = Policy.default("DE")
    assert (policy.jurisdiction, policy.currency) == ("DE", "EUR")
    assert policy.business_calendar() == BusinessCalendar("DE")
    assert [rule.name_de for rule in policy.levels] == [
        "Zahlungserinnerung",
        "1. Mahnung",
        "2. Mahnung",
        "letzte Mahnung",
        "Übergabe Inkasso",
    ]
    assert [rule.days_after_due for rule in policy.levels] == [1, 15, 30, 45, 60]
    assert [rule.days_after_previous for rule in policy.levels] == [None, 14, 14, 14, 14]
    assert policy.min_days_between_letters == 14
    assert [rule.fee_b2c for rule in policy.levels] == [
        Decimal("0.00"),
        Decimal("1.00"),
        Decimal("1.00"),
        Decimal("1.00"),
        Decimal("0.00"),
    ]
    assert {rule.fee_b2b for rule in policy.levels} == {Decimal("0.00")}
    assert [rule.automatic for rule in policy.levels] == [True, True, True, True, False]
    assert policy.max_automatic_level == 4
    assert policy.consumer_fee_cap == Decimal("2.50")
    assert (policy.claims_interest("B2C"), policy.claims_interest("B2B")) == (True, True)
    assert (policy.claims_flat_fee("B2C"), policy.claims_flat_fee("B2B")) == (False, True)
    assert policy.interest_survives_principal_payment is True
    assert policy.payment_allocation == "bgb_367"
    assert policy.allow_unconfirmed_base_rate is False
    offers = policy.offers
    assert offers.installment_min_total == Decimal("500.00")
    assert offers.installment_risk_range == (0.2, 0.7)
    assert (offers.installment_min_level, offers.installments) == (2, 3)
    assert policy.advisories() == ()


def test_uk_default_loads_with_letter_of_claim_and_business_only_interest() -> None:
    """The GB default: GBP, England's holidays, Letter of Claim with 30 days, no consumer claims."""
    policy = Policy.default("GB")
    assert (policy.jurisdiction, policy.currency) == ("GB", "GBP")
    assert policy.business_calendar() == BusinessCalendar("GB", "ENG")
    claim = policy.level_rule(4)
    assert claim.letter_of_claim and claim.name_en == "Letter of Claim"
    assert claim.deadline_days == 30 and not claim.automatic
    assert policy.level_rule(5).days_after_previous == 35
    assert policy.max_automatic_level == 3
    assert (policy.claims_interest("B2C"), policy.claims_interest("B2B")) == (False, True)
    assert (policy.claims_flat_fee("B2C"), policy.claims_flat_fee("B2B")) == (False, True)
    assert policy.consumer_fee_cap == Decimal("0.00")
    assert {rule.fee_b2c for rule in policy.levels} == {Decimal("0")}
    assert "MoneyHelper" in policy.tone_and_channel.help_line_en
    assert policy.advisories() == ()


def test_default_for_an_unknown_jurisdiction_fails_with_a_hint() -> None:
    """'UK' is not ISO 3166: the error says to use 'GB'."""
    with pytest.raises(PolicyError, match="use 'GB'") as info:
        Policy.default("UK")
    assert info.value.field == "jurisdiction"
    with pytest.raises(PolicyError, match=r"expected one of \['DE', 'GB'\]"):
        Policy.default("FR")


def test_default_toml_amounts_are_exact_decimals() -> None:
    """TOML numbers such as 2.50 are read as Decimal('2.50'), never as floats."""
    policy = Policy.default("DE")
    assert isinstance(policy.consumer_fee_cap, Decimal)
    assert str(policy.consumer_fee_cap) == "2.50"
    assert str(policy.tone_and_channel.channel_costs.letter) == "1.10"


def test_jurisdiction_fills_currency_and_calendar_when_omitted() -> None:
    """Without currency and calendar, DE gets EUR/nationwide and GB gets GBP/England."""
    for jurisdiction, currency, subdivision in (("DE", "EUR", None), ("GB", "GBP", "ENG")):
        data = Policy.default(jurisdiction).to_dict()
        del data["currency"], data["calendar"]
        policy = Policy.from_dict(data)
        assert policy.currency == currency
        assert (policy.calendar.country, policy.calendar.subdivision) == (
            jurisdiction,
            subdivision,
        )


# -- round trips and formats ------------------------------------------------------------------


def test_toml_to_policy_to_dict_to_policy_round_trip(tmp_path: Path) -> None:
    """TOML -> Policy -> dict -> (JSON text) -> Policy gives an equal policy and the same id."""
    for jurisdiction in ("DE", "GB"):
        path = tmp_path / f"{jurisdiction}.toml"
        path.write_text(Policy.default_text(jurisdiction), encoding="utf-8")
        loaded = Policy.from_file(path)
        again = Policy.from_dict(json.loads(json.dumps(loaded.to_dict())))
        assert again == loaded == Policy.default(jurisdiction)
        assert again.version_id == loaded.version_id


def test_a_yaml_policy_file_loads(tmp_path: Path) -> None:
    """A hand-written YAML policy with two levels and unquoted amounts loads exactly."""
    path = tmp_path / "policy.yaml"
    path.write_text(
        """
name: Kleinbetrieb
version: "1"
jurisdiction: DE
grace_days: 3
min_open_amount: 10
calendar:
  subdivision: BY
claim_interest: {b2c: false, b2b: true}
claim_flat_fee: {b2c: false, b2b: false}
interest_survives_principal_payment: false
levels:
  - level: 1
    name_de: Zahlungserinnerung
    name_en: payment reminder
    days_after_due: 7
    channels: [email]
    tone: friendly
    deadline_days: 14
  - level: 2
    name_de: Mahnung
    name_en: reminder
    days_after_previous: 21
    fee_b2c: 0.95
    channels: [letter]
    tone: neutral
    deadline_days: 10
""",
        encoding="utf-8",
    )
    policy = Policy.from_file(path)
    assert policy.business_calendar() == BusinessCalendar("DE", "BY")
    assert policy.fee(2, "B2C") == Decimal("0.95")
    assert str(policy.fee(2, "B2C")) == "0.95"
    assert policy.min_open_amount == Decimal(10)
    assert policy.max_level == policy.max_automatic_level == 2
    assert policy.claims_interest("B2C") is False
    assert policy.interest_survives_principal_payment is False


def test_the_yaml_example_in_docs_is_the_german_default() -> None:
    """docs/examples/policy.de.yaml loads and equals Policy.default('DE')."""
    path = REPO / "docs" / "examples" / "policy.de.yaml"
    assert Policy.from_file(path) == Policy.default("DE")


def test_the_toml_examples_in_docs_are_the_shipped_defaults() -> None:
    """The German and UK TOML blocks in docs/policy.md equal the shipped default files."""
    text = (REPO / "docs" / "policy.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    full = [block for block in blocks if "[[levels]]" in block and "[tone_and_channel]" in block]
    assert full == [Policy.default_text("DE"), Policy.default_text("GB")]


def test_every_toml_block_in_docs_is_a_valid_policy() -> None:
    """Each TOML example in docs/policy.md (the defaults and the minimal one) loads."""
    text = (REPO / "docs" / "policy.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    names = [Policy.from_dict(tomllib.loads(b, parse_float=Decimal)).name for b in blocks]
    assert names == ["Standard Deutschland", "Standard United Kingdom", "Kleinbetrieb"]


def test_the_error_examples_in_docs_are_real_messages() -> None:
    """The two error messages shown in docs/policy.md are what the loader says."""
    text = (REPO / "docs" / "policy.md").read_text(encoding="utf-8")
    shown = re.findall(r"```text\n(policy my-policy.*?)\n```", text, flags=re.DOTALL)
    first = _de()
    first["levels"][0]["fee_b2c"] = "0.50"
    first["levels"][2]["fee_b2c"] = "3.00"
    first["levels"][3]["days_after_due"] = 20
    second = _de()
    second["grace_days"] = -3
    second["levels"][1]["tonne"] = "firm"
    second["version"] = 2026.1
    got = []
    for data, source in ((first, "my-policy.toml"), (second, "my-policy.yaml")):
        with pytest.raises(PolicyValidationError) as info:
            Policy.from_dict(data, source=source)
        got.append(str(info.value))
    assert shown == got


# -- version ids ------------------------------------------------------------------------------


def test_version_id_is_stable_and_ignores_number_formatting(tmp_path: Path) -> None:
    """Equal content gives the same id, whether 2.5 or 2.50 and TOML or YAML."""
    default = Policy.default("DE")
    assert len(default.version_id) == 64
    assert Policy.from_dict(_de()).version_id == default.version_id
    data = _de()
    data["consumer_fee_cap"] = "2.5"
    data["min_open_amount"] = 5
    assert Policy.from_dict(data).version_id == default.version_id
    yaml_path = _write_yaml(tmp_path / "de.yml", _de())
    assert Policy.from_file(yaml_path).version_id == default.version_id


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(version="2026.2"),
        lambda d: d.update(min_open_amount="5.01"),
        lambda d: d["levels"][1].update(tone="firm"),
        lambda d: d["offers"].update(installments=4),
        lambda d: d["review"].update(route_anomalies=False),
        lambda d: d["calendar"].update(subdivision="NW"),
    ],
)
def test_version_id_changes_when_a_field_changes(mutate: Mutation) -> None:
    """Changing any field, however deep, gives a new version id."""
    data = _de()
    mutate(data)
    assert Policy.from_dict(data).version_id != Policy.default("DE").version_id


# -- invalid policies -------------------------------------------------------------------------


def _drop_level_3(d: dict[str, Any]) -> None:
    del d["levels"][2]


def _deadline_14_at_level_2(d: dict[str, Any]) -> None:
    d["levels"][1]["deadline_days"] = 14  # level 3 follows 14 days after: no time to pay


INVALID: list[tuple[str, Mutation, str, str]] = [
    ("negative grace days", lambda d: d.update(grace_days=-3), "grace_days", "greater than"),
    ("wrong type", lambda d: d.update(grace_days="three"), "grace_days", "valid integer"),
    ("quoted int", lambda d: d.update(min_days_between_letters="14"), "min_days_between_letters",
     "valid integer"),
    ("number for text", lambda d: d.update(version=2026.1), "version", "write it in quotes"),
    ("unknown key", lambda d: d.update(grace_dayz=3), "grace_dayz", "did you mean 'grace_days'"),
    ("unknown nested key", lambda d: d["levels"][1].update(tonne="firm"), "levels[1].tonne",
     "did you mean 'tone'"),
    ("non-contiguous levels", _drop_level_3, "levels[2].level", "expected level 3 here, got 4"),
    ("consumer fee above cap", lambda d: d["levels"][2].update(fee_b2c="3.00"),
     "levels[2].fee_b2c", "above consumer_fee_cap 2.50"),
    ("consumer fee on level 1", lambda d: d["levels"][0].update(fee_b2c="0.50"),
     "levels[0].fee_b2c", "first reminder"),
    ("negative fee", lambda d: d["levels"][1].update(fee_b2b="-1.00"), "levels[1].fee_b2b",
     "greater than or equal to 0"),
    ("level 5 automatic", lambda d: d["levels"][4].update(automatic=True),
     "levels[4].automatic", "never automatic"),
    ("days not increasing", lambda d: d["levels"][3].update(days_after_due=30),
     "levels[3].days_after_due", "must increase"),
    ("gap below minimum", lambda d: d["levels"][1].update(days_after_previous=7),
     "levels[1].days_after_previous", "below min_days_between_letters 14"),
    ("gap within deadline", _deadline_14_at_level_2, "levels[2].days_after_previous",
     "payment deadline of levels[1]"),
    ("level 1 without days", lambda d: d["levels"][0].pop("days_after_due"),
     "levels[0].days_after_due", "needs days_after_due"),
    ("later level without gap", lambda d: d["levels"][1].update(days_after_previous=None),
     "levels[1].days_after_previous", "needs days_after_previous"),
    ("first level inside grace", lambda d: d.update(grace_days=1), "levels[0].days_after_due",
     "within grace_days 1"),
    ("unknown channel", lambda d: d["levels"][0].update(channels=["fax"]),
     "levels[0].channels[0]", "'email', 'letter' or 'sms'"),
    ("no channel", lambda d: d["levels"][0].update(channels=[]), "levels[0].channels",
     "at least one channel"),
    ("missing explicit choice", lambda d: d.pop("interest_survives_principal_payment"),
     "interest_survives_principal_payment", "required field is missing"),
    ("flat fee from consumers", lambda d: d["claim_flat_fee"].update(b2c=True),
     "claim_flat_fee.b2c", "businesses only"),
    ("letter of claim outside GB", lambda d: d["levels"][3].update(letter_of_claim=True),
     "levels[3].letter_of_claim", "jurisdiction = 'GB'"),
    ("unknown state", lambda d: d["calendar"].update(subdivision="XX"), "calendar.subdivision",
     "unknown subdivision 'XX'"),
    ("too many decimals", lambda d: d.update(min_open_amount="0.001"), "min_open_amount",
     "more decimals than EUR allows (2)"),
    ("not a number", lambda d: d.update(min_open_amount="NaN"), "min_open_amount", "finite"),
    ("unknown currency", lambda d: d.update(currency="XYZ"), "currency", "unknown currency"),
    ("risk range reversed", lambda d: d["offers"].update(installment_risk_range=[0.7, 0.2]),
     "offers.installment_risk_range", "above the high end"),
    ("instalments below minimum", lambda d: d["offers"].update(min_installment="200.00"),
     "offers.min_installment", "more than installment_min_total"),
    ("offer level missing", lambda d: d["levels"].pop() and d["offers"].update(
        installment_min_level=5), "offers.installment_min_level", "not a level of this policy"),
    ("review shares", lambda d: d["review"].update(max_share=0.1), "review.max_share",
     "below target_share"),
    ("vulnerable escalation", lambda d: d["tone_and_channel"].update(
        vulnerable_hold_escalation=False), "tone_and_channel.vulnerable_hold_escalation",
     "cannot be switched off"),
    ("fallback needs consent", lambda d: d["tone_and_channel"].update(fallback_channel="sms"),
     "tone_and_channel.fallback_channel", "needs consent"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [pytest.param(m, f, r, id=name) for name, m, f, r in INVALID],
)
def test_invalid_policy_fails_naming_field_file_and_reason(
    tmp_path: Path, mutate: Mutation, field: str, reason: str
) -> None:
    """Every invalid policy fails on load with PolicyError naming the field, file and reason."""
    data = copy.deepcopy(_de())
    mutate(data)
    path = _write_yaml(tmp_path / "broken.yaml", data)
    with pytest.raises(PolicyValidationError) as info:
        Policy.from_file(path)
    err = info.value
    assert isinstance(err, PolicyError) and isinstance(err, ValueError)
    assert str(path) in str(err) and err.source == str(path)
    texts = [text for path, text in err.problems if path == field]
    assert texts, f"{field} not in {[path for path, _ in err.problems]}"
    assert any(reason in text for text in texts), texts
    assert f"  - {field}: " in str(err)


def test_uk_policy_may_not_claim_consumer_interest_or_shorten_the_letter_of_claim() -> None:
    """GB: statutory interest is business-only, and a Letter of Claim gives 30 days."""
    data = Policy.default("GB").to_dict()
    data["claim_interest"]["b2c"] = True
    data["levels"][3]["deadline_days"] = 14
    with pytest.raises(PolicyValidationError) as info:
        Policy.from_dict(data, source="uk-custom.toml")
    assert [path for path, _ in info.value.problems] == [
        "claim_interest.b2c",
        "levels[3].deadline_days",
    ]
    assert "business debts only" in info.value.problems[0][1]
    assert "30 days to reply" in info.value.problems[1][1]


def test_one_error_lists_every_cross_field_problem() -> None:
    """Several rule violations are reported together, sorted by field path, first one in .field."""
    data = _de()
    data["levels"][0]["fee_b2c"] = "0.50"
    data["levels"][2]["fee_b2c"] = "3.00"
    data["levels"][3]["days_after_due"] = 20
    data["min_open_amount"] = "0.001"
    with pytest.raises(PolicyValidationError) as info:
        Policy.from_dict(data, source="mine.toml")
    err = info.value
    assert [path for path, _ in err.problems] == [
        "levels[0].fee_b2c",
        "levels[2].fee_b2c",
        "levels[3].days_after_due",
        "min_open_amount",
    ]
    assert err.field == "levels[0].fee_b2c"
    assert str(err).startswith("policy mine.toml is invalid (4 problems):\n  - levels[0].fee_b2c:")


def test_one_error_lists_every_type_problem() -> None:
    """Type errors in different places are all reported at once."""
    data = _de()
    data["grace_days"] = -1
    data["levels"][1]["tone"] = "angry"
    data["offers"]["installments"] = 1
    data["surprise"] = True
    with pytest.raises(PolicyValidationError) as info:
        Policy.from_dict(data)
    assert sorted(path for path, _ in info.value.problems) == [
        "grace_days",
        "levels[1].tone",
        "offers.installments",
        "surprise",
    ]


def test_toml_file_errors_name_the_file(tmp_path: Path) -> None:
    """A TOML mistake in a file is reported with the file and the field."""
    path = tmp_path / "policy.toml"
    path.write_text(
        Policy.default_text("DE").replace("grace_days = 0", "grace_days = -3"), encoding="utf-8"
    )
    with pytest.raises(PolicyValidationError, match=r"grace_days: input should be greater") as info:
        Policy.from_file(path)
    assert info.value.field == "grace_days"
    assert f"policy {path} is invalid (1 problem)" in str(info.value)


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    """Broken TOML syntax fails with PolicyError giving the file and the line."""
    path = tmp_path / "policy.toml"
    path.write_text('name = "x"\nversion = \n', encoding="utf-8")
    with pytest.raises(PolicyValidationError, match=r"is not valid TOML: .*line 2") as info:
        Policy.from_file(path)
    assert str(path) in str(info.value) and info.value.problems == ()


def test_yaml_syntax_error_and_non_mapping_fail(tmp_path: Path) -> None:
    """Broken YAML and a YAML list at the top level fail with PolicyError."""
    broken = tmp_path / "broken.yml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyValidationError, match="is not valid YAML"):
        Policy.from_file(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(PolicyValidationError, match="expected a mapping of fields"):
        Policy.from_file(listing)


def test_missing_file_and_unknown_format_fail_with_policy_error(tmp_path: Path) -> None:
    """A missing file or a .json file fails with PolicyError saying what to do."""
    with pytest.raises(PolicyValidationError, match="cannot read policy file"):
        Policy.from_file(tmp_path / "absent.toml")
    with pytest.raises(PolicyValidationError, match=r"use \.toml, \.yaml or \.yml"):
        Policy.from_file(tmp_path / "policy.json")


def test_policy_is_frozen() -> None:
    """Assigning to a field of a loaded policy fails."""
    policy = Policy.default("DE")
    with pytest.raises(ValidationError, match="frozen"):
        policy.grace_days = 5


def test_replace_validates_the_changed_policy() -> None:
    """replace() returns a validated copy and rejects invalid changes."""
    policy = Policy.default("DE").replace(grace_days=0, min_days_between_letters=10)
    assert policy.min_days_between_letters == 10
    with pytest.raises(
        PolicyValidationError, match=r"levels\[1\]\.fee_b2c: 1\.00 is above consumer_fee_cap 0\.99"
    ):
        Policy.default("DE").replace(consumer_fee_cap=Decimal("0.99"))


def test_level_rule_defaults_automatic_by_level() -> None:
    """A level 5 without 'automatic' is not automatic; levels 1-4 are."""
    common: dict[str, Any] = {
        "name_de": "x",
        "name_en": "x",
        "days_after_previous": 14,
        "channels": ["letter"],
        "tone": "firm",
        "deadline_days": 7,
    }
    assert LevelRule.model_validate({"level": 5, **common}).automatic is False
    assert LevelRule.model_validate({"level": 4, **common}).automatic is True


# -- advisories and helpers -------------------------------------------------------------------


def test_advisories_are_listed_and_logged_on_load(caplog: pytest.LogCaptureFixture) -> None:
    """A high cap, an e-mail-only fee and a B2B fee beside the € 40 fee give three advisories."""
    data = _de()
    data["consumer_fee_cap"] = "3.00"
    data["levels"][1]["channels"] = ["email"]
    data["levels"][2]["fee_b2b"] = "5.00"
    with caplog.at_level(logging.WARNING, logger="dunning.policy"):
        policy = Policy.from_dict(data, source="mine.toml")
    notes = policy.advisories()
    assert [note.split(":")[0] for note in notes] == [
        "consumer_fee_cap",
        "levels[1].fee_b2c",
        "levels[2].fee_b2b",
    ]
    assert "VIII ZR 95/18" in notes[0]
    assert "§ 288 (5) sentence 3 BGB" in notes[2]
    assert [record.getMessage() for record in caplog.records] == [
        f"policy mine.toml: {note}" for note in notes
    ]


def test_letter_deadline_is_rolled_to_a_business_day() -> None:
    """DE level 1 dated 2026-12-15: 25 Dec rolls to 28 Dec; GB Letter of Claim skips 28 Dec."""
    assert Policy.default("DE").letter_deadline(1, date(2026, 12, 15)) == date(2026, 12, 28)
    # 2026-11-27 + 30 days = Sunday 2026-12-27; Monday 28 Dec is Boxing Day (observed).
    assert Policy.default("GB").letter_deadline(4, date(2026, 11, 27)) == date(2026, 12, 29)


def test_level_lookup_and_fees() -> None:
    """level_rule, fee and name give the level's settings; an unknown level fails."""
    policy = Policy.default("DE")
    assert policy.fee(4, "B2C") == Decimal("1.00")
    assert policy.fee(4, "B2B") == Decimal("0.00")
    assert policy.level_rule(2).name("en") == "first reminder"
    assert policy.tone_and_channel.channel_costs.cost("letter") == Decimal("1.10")
    with pytest.raises(PolicyError, match="level 6 is not a level") as info:
        policy.level_rule(6)
    assert info.value.field == "levels"
    with pytest.raises(PolicyError, match="unknown segment"):
        policy.claims_interest("B2G")  # type: ignore[arg-type]
