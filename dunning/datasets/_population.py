"""The demo portfolio's customers: who they are and how to reach them.

Private helper of :mod:`dunning.datasets._generator`. Draws the customer table
(segment, country, language, industry, name, address, contact data, IBAN, vulnerability,
consent) from small built-in lists, vectorised over customers. How customers *pay* is
drawn by the generator; this module knows nothing about payments.

Phone numbers are made up (for GB from Ofcom's ranges reserved for drama), e-mail
addresses use the reserved example domains (RFC 2606), and IBANs carry valid ISO 13616
check digits on invented account numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from dunning.models import NACE_SECTIONS

Int = npt.NDArray[np.int64]
Float = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
Objects = npt.NDArray[np.object_]

#: Share of business customers (B2B); the others are consumers (B2C).
SHARE_B2B = 0.30
#: Share of customers whose history starts later (uniformly in the window, at least
#: ``NEW_MIN_DAYS`` before ``as_of``); the others are active over the whole window.
SHARE_NEW = 0.25
NEW_MIN_DAYS = 90
#: Share of DE/AT customers who want English letters.
SHARE_EN_IN_DE_AT = 0.05
#: B2C only: share with no postal address (e-mail-only customers, consent ``email``).
SHARE_EMAIL_ONLY = 0.01
#: Missing contact data per segment (B2C, B2B): stays ``NA``.
MISSING_EMAIL = (0.12, 0.04)
MISSING_PHONE = (0.30, 0.10)
MISSING_IBAN = 0.10
#: Consent to e-mail (if an address exists) and to SMS (if a phone number exists).
CONSENT_EMAIL = 0.75
CONSENT_SMS = 0.25
#: B2C only: share flagged vulnerable (B2B customers are never flagged).
SHARE_VULNERABLE = 0.04
#: Industry mix of businesses (NACE section: share).
INDUSTRIES: dict[str, float] = {
    "C": 0.18, "F": 0.14, "G": 0.22, "H": 0.10, "I": 0.08,
    "J": 0.08, "M": 0.10, "N": 0.05, "Q": 0.05,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Country:
    code: str
    share: float
    currency: str
    language: str
    cities: tuple[tuple[str, str, str], ...]  # city, postal code, phone area code
    phone: str  # national prefix
    banks: tuple[str, ...]  # IBAN bank codes (letters allowed)
    account_digits: int


COUNTRIES: tuple[_Country, ...] = (
    _Country(
        "DE", 0.60, "EUR", "de",
        (("Berlin", "10115", "30"), ("Hamburg", "20095", "40"), ("München", "80331", "89"),
         ("Köln", "50667", "221"), ("Frankfurt am Main", "60311", "69"),
         ("Stuttgart", "70173", "711"), ("Düsseldorf", "40213", "211"),
         ("Leipzig", "04109", "341"), ("Dresden", "01067", "351"),
         ("Hannover", "30159", "511"), ("Nürnberg", "90402", "911"), ("Bremen", "28195", "421")),
        "+49", ("37040044", "10010010", "50010517", "20041133", "12030000", "70150000"), 10,
    ),
    _Country(
        "AT", 0.15, "EUR", "de",
        (("Wien", "1010", "1"), ("Graz", "8010", "316"), ("Linz", "4020", "732"),
         ("Salzburg", "5020", "662"), ("Innsbruck", "6020", "512"),
         ("Klagenfurt", "9020", "463")),
        "+43", ("12000", "20111", "32000", "60000", "14000"), 11,
    ),
    _Country(
        "GB", 0.25, "GBP", "en",
        (("London", "EC1A 1BB", "20 7946"), ("Manchester", "M1 1AE", "161 496"),
         ("Birmingham", "B1 1BB", "121 496"), ("Leeds", "LS1 4DY", "113 496"),
         ("Glasgow", "G1 1XQ", "141 496"), ("Bristol", "BS1 4DJ", "117 496"),
         ("Edinburgh", "EH1 1YZ", "131 496"), ("Liverpool", "L1 8JQ", "151 496")),
        "+44", ("NWBK601613", "BARC204005", "LOYD301234", "HBUK401234"), 8,
    ),
)  # fmt: skip

_FIRST = {
    "de": ("Anna", "Lukas", "Maria", "Jonas", "Sophie", "Felix", "Laura", "Paul", "Julia",
           "Leon", "Lena", "Emma", "Elias", "Hannah", "Katharina", "Thomas", "Sabine",
           "Michael", "Petra", "Andreas", "Ursula", "Jürgen", "Monika", "Stefan", "Ayşe"),
    "en": ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Mia", "Noah",
           "Olivia", "James", "Emily", "William", "Sophie", "Thomas", "Charlotte", "David",
           "Sarah", "Priya", "Mohammed", "Siobhan", "Rhys"),
}  # fmt: skip
_LAST = {
    "de": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
           "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
           "Braun", "Zimmermann", "Krüger", "Huber", "Gruber", "Wimmer", "Öztürk", "Nowak"),
    "en": ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
           "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts",
           "Green", "Hall", "Khan", "Clarke", "O'Brien", "MacLeod"),
}  # fmt: skip
_STREETS = {
    "DE": ("Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schulstraße", "Bergstraße",
           "Lindenstraße", "Kirchstraße", "Waldstraße", "Ringstraße", "Goethestraße"),
    "AT": ("Hauptstraße", "Bahnhofstraße", "Mozartgasse", "Kirchengasse", "Wiener Straße",
           "Schulgasse", "Lindengasse", "Grazer Straße"),
    "GB": ("High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue",
           "Queen Street", "Mill Lane", "King's Road", "Green Lane", "Manor Road"),
}  # fmt: skip
_TRADE = {  # industry: (German word, English word) in company names
    "C": ("Metallbau", "Engineering"), "F": ("Bau", "Construction"),
    "G": ("Handel", "Trading"), "H": ("Logistik", "Logistics"),
    "I": ("Gastronomie", "Catering"), "J": ("IT-Service", "Digital"),
    "M": ("Beratung", "Consulting"), "N": ("Gebäudeservice", "Facility Services"),
    "Q": ("Pflegedienst", "Care"),
}  # fmt: skip
_LEGAL = {
    "DE": ("GmbH", "GmbH & Co. KG", "KG", "AG", "e.K."),
    "AT": ("GmbH", "KG", "OG", "AG"),
    "GB": ("Ltd", "Ltd", "LLP", "plc"),
}
_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ş": "s", "'": "", " ": "-"})


@dataclass(frozen=True, slots=True)
class Population:
    """Per-customer arrays the generator needs besides the customer table."""

    ids: Objects  # customer ids
    b2b: Bool
    currency: Objects
    industry: Int  # row in NACE_SECTIONS, -1 for consumers
    active_from: Int  # first possible issue day (days since 1970-01-01)
    vulnerable: Bool
    email_channel: Bool  # dunning letters go by e-mail (consent given)


def ids(prefix: str, numbers: Int, width: int) -> pd.Series:
    """Zero-padded ids such as ``K000001`` (``str`` dtype)."""
    return prefix + pd.Series(numbers, dtype=np.int64).astype("str").str.zfill(width)


def text(values: Objects | npt.NDArray[np.str_] | pd.Series) -> pd.Series:
    """A ``str`` Series with a fresh positional index (``None`` becomes ``NA``)."""
    return pd.Series(np.asarray(values, dtype=object), dtype="str")


def choice(u: Float, shares: Float) -> Int:
    """Index into ``shares`` for each uniform draw ``u`` (inverse CDF)."""
    cdf = np.cumsum(shares) / np.sum(shares)
    index = np.minimum(np.searchsorted(cdf, u, side="right"), len(shares) - 1)
    return index.astype(np.int64)


def _index_within(u: Float, group: Int, counts: Int) -> Int:
    """Row in a flat list of per-group options: ``u`` picks uniformly within the group."""
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pick = np.minimum((u * counts[group]).astype(np.int64), counts[group] - 1)
    return (offsets[group] + pick).astype(np.int64)


def _within(u: Float, group: Int, options: Sequence[Sequence[str]]) -> Objects:
    """For each row, the option ``u`` picks (uniformly) from the options of its group."""
    flat = np.array([o for opts in options for o in opts], dtype=object)
    counts = np.array([len(opts) for opts in options], dtype=np.int64)
    result: Objects = flat[_index_within(u, group, counts)]
    return result


def _iban_check(country: str, bank: str, account: Int, digits: int) -> Int:
    """ISO 13616 check digits: 98 - (BBAN + country + '00' read as a number) mod 97."""

    def number(code: str) -> int:
        return int("".join(str(int(ch, 36)) for ch in code))

    tail = number(country + "00")
    tail_len = len(str(tail))
    head = number(bank) % 97 * pow(10, digits + tail_len, 97)
    rest = account % 97 * pow(10, tail_len, 97) + tail % 97
    check: Int = 98 - (head + rest) % 97
    return check


def _ibans(u_bank: Float, u_account: Float, country: Int) -> pd.Series:
    """A valid IBAN for every customer, with a bank of its country."""
    out = pd.Series(pd.NA, index=range(len(country)), dtype="str")
    for i, c in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == i)
        bank_no = np.minimum((u_bank[rows] * len(c.banks)).astype(np.int64), len(c.banks) - 1)
        account = (u_account[rows] * 10**c.account_digits).astype(np.int64)
        check = np.zeros(len(rows), dtype=np.int64)
        for b, bank in enumerate(c.banks):
            mine = bank_no == b
            check[mine] = _iban_check(c.code, bank, account[mine], c.account_digits)
        iban = (
            c.code
            + pd.Series(check).astype("str").str.zfill(2)
            + text(np.asarray(c.banks, dtype=object)[bank_no])
            + pd.Series(account).astype("str").str.zfill(c.account_digits)
        )
        out.iloc[rows] = iban.to_numpy()
    return out


def draw_customers(
    rng: np.random.Generator, n: int, first: int, last: int
) -> tuple[pd.DataFrame, Population]:
    """Draw ``n`` customers active from day ``first`` (some later) up to day ``last``.

    Returns the canonical customer table and the per-customer arrays of
    :class:`Population`.
    """
    u = rng.random((24, n))  # every customer-level uniform draw, in a fixed order
    b2b = u[0] < SHARE_B2B
    seg = b2b.astype(np.int64)
    country = choice(u[1], np.array([c.share for c in COUNTRIES]))
    code = np.array([c.code for c in COUNTRIES], dtype=object)[country]
    native = np.array([c.language for c in COUNTRIES], dtype=object)[country]
    language = np.where((native == "de") & (u[2] < SHARE_EN_IN_DE_AT), "en", native)
    is_en = (native == "en").astype(np.int64)  # names follow the country, not the letter
    trades = list(INDUSTRIES)
    trade = choice(u[3], np.array(list(INDUSTRIES.values())))
    sections = np.searchsorted(np.asarray(NACE_SECTIONS), np.asarray(trades)).astype(np.int64)
    industry = np.where(b2b, sections[trade], -1).astype(np.int64)
    new = u[4] < SHARE_NEW
    latest = max(first, last - NEW_MIN_DAYS)
    active_from = np.where(new, first + (u[5] * (latest - first + 1)).astype(np.int64), first)
    vulnerable = ~b2b & (u[6] < SHARE_VULNERABLE)

    # Names and addresses from the built-in lists.
    lang = ("de", "en")
    first_name = text(_within(u[7], is_en, [_FIRST[k] for k in lang]))
    last_name = text(_within(u[8], is_en, [_LAST[k] for k in lang]))
    words = np.array([_TRADE[t][0] for t in trades] + [_TRADE[t][1] for t in trades], dtype=object)
    trade_word = text(words[trade + len(trades) * is_en])
    countries = country.astype(np.int64)
    legal = text(_within(u[9], countries, [_LEGAL[c.code] for c in COUNTRIES]))
    company = last_name + " " + trade_word + " " + legal
    person = first_name + " " + last_name
    name = text(np.where(b2b, company.to_numpy(), person.to_numpy()))
    road = text(_within(u[10], countries, [_STREETS[c.code] for c in COUNTRIES]))
    number = pd.Series((1 + u[11] * 120).astype(np.int64)).astype("str")
    gb = code == "GB"
    street = text(np.where(gb, (number + " " + road).to_numpy(), (road + " " + number).to_numpy()))
    cities = [row for c in COUNTRIES for row in c.cities]
    counts = np.array([len(c.cities) for c in COUNTRIES], dtype=np.int64)
    city_row = _index_within(u[12], countries, counts)
    city = text(np.array([r[0] for r in cities], dtype=object)[city_row])
    postal = text(np.array([r[1] for r in cities], dtype=object)[city_row])
    area = text(np.array([r[2] for r in cities], dtype=object)[city_row])

    # Contact data: missing stays missing (NA).
    ascii_first = first_name.str.lower().str.translate(_ASCII)
    ascii_last = last_name.str.lower().str.translate(_ASCII)
    suffix = pd.Series((u[13] * 200).astype(np.int64)).astype("str").where(u[13] < 0.5, "")
    domains = [("example.com", "example.org", "example.net")]
    domain = text(_within(u[14], np.zeros(n, dtype=np.int64), domains))
    person_mail = ascii_first + "." + ascii_last + suffix + "@" + domain
    mailbox = text(np.where(is_en == 1, "accounts", "buchhaltung"))
    business = ascii_last + "-" + trade_word.str.lower().str.translate(_ASCII)
    company_mail = mailbox + "@" + business + ".example"
    email = text(np.where(b2b, company_mail.to_numpy(), person_mail.to_numpy()))
    local = pd.Series((1_000_000 + u[15] * 9_000_000).astype(np.int64)).astype("str")
    drama = pd.Series((u[15] * 1000).astype(np.int64)).astype("str").str.zfill(3)
    prefix = text(np.array([c.phone for c in COUNTRIES], dtype=object)[country])
    uk = prefix + " " + area + " 0" + drama
    phone = text(np.where(gb, uk.to_numpy(), (prefix + " " + area + " " + local).to_numpy()))
    iban = _ibans(u[16], u[17], countries)

    email_only = ~b2b & (u[18] < SHARE_EMAIL_ONLY)
    has_email = email_only | (u[19] >= np.array(MISSING_EMAIL)[seg])
    has_phone = u[20] >= np.array(MISSING_PHONE)[seg]
    has_iban = u[21] >= MISSING_IBAN
    consent_email = has_email & (email_only | (u[22] < CONSENT_EMAIL))
    consent_sms = has_phone & (u[23] < CONSENT_SMS)
    channels = (
        np.where(consent_email, "email|", "").astype(object)
        + np.where(email_only, "", "letter|").astype(object)
        + np.where(consent_sms, "sms|", "").astype(object)
    )
    consent = text(channels).str.rstrip("|")

    customer_ids = ids("K", np.arange(1, n + 1, dtype=np.int64), max(6, len(str(n))))
    letters = np.array([*NACE_SECTIONS, None], dtype=object)  # industry -1: none
    frame = pd.DataFrame(
        {
            "customer_id": customer_ids,
            "name": name,
            "street": street.where(~email_only),
            "postal_code": postal.where(~email_only),
            "city": city.where(~email_only),
            "country": text(code),
            "language": text(language),
            "segment": text(np.where(b2b, "B2B", "B2C").astype(object)),
            "industry": text(letters[industry]),
            "email": email.where(has_email),
            "phone": phone.where(has_phone),
            "iban": iban.where(has_iban),
            "vulnerable": pd.array(vulnerable, dtype="boolean"),
            "contact_consent": consent,
        }
    )
    population = Population(
        ids=customer_ids.to_numpy(dtype=object),
        b2b=b2b,
        currency=np.array([c.currency for c in COUNTRIES], dtype=object)[country],
        industry=industry,
        active_from=active_from.astype(np.int64),
        vulnerable=vulnerable,
        email_channel=consent_email,
    )
    return frame, population
