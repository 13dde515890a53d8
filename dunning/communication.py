"""Tone and channel of each case's letter, and the protections for vulnerable customers.

:func:`choose_tone_and_channel` reads the level's ``tone`` and ``channels`` from the
policy (:class:`~dunning.policy.LevelRule`) and the rules of
:class:`~dunning.policy.ToneChannelRules`:

Tone (``"friendly"`` < ``"neutral"`` < ``"firm"``)
    The level's tone, one step gentler (never below friendly) for a customer in the top
    ``tone_and_channel.gentle_tone_clv_share`` of CLV among the cases, or with a good
    payment history. A customer marked vulnerable always gets ``gentle_tone``
    (``"friendly"``).
Good history
    The case column ``good_history`` (bool) where present; otherwise no broken payment
    promise (``broken_promises == 0``) **and** no invoice settled late in the last 12
    months (``late_12m_share == 0``). Without either column nobody counts as having a
    good history: the absence of data is not a good record.
Channel (``"email"``, ``"letter"``, ``"sms"``)
    A channel is usable when it is one of the level's ``channels``, the customer consented
    to it if it is in ``consent_required`` (``contact_consent``, ``|``-joined, e.g.
    ``"email|letter"``), and the contact data is there (``email``; ``phone`` for SMS;
    ``street`` and ``postal_code`` or ``city`` for a letter). The cheapest usable channel
    by ``channel_costs`` wins; equal costs go to the level's order of preference. Without
    a usable channel the ``fallback_channel`` (``"letter"``, the legal fallback) is used.
Help line and escalation
    ``help_line`` and ``escalation_blocked`` are true for every vulnerable customer
    (``vulnerable_help_line``, ``vulnerable_hold_escalation``; the policy cannot switch
    them off). A vulnerable customer is never escalated automatically.

Examples
--------
>>> import pandas as pd
>>> cases = pd.DataFrame({"level": [2, 2, 4], "vulnerable": [False, False, True],
...     "contact_consent": ["email|letter", "letter", "email|letter"],
...     "email": ["a@example.com", "b@example.com", "c@example.com"],
...     "street": ["Weg 1", "Weg 2", "Weg 3"], "postal_code": ["10115"] * 3})
>>> out = choose_tone_and_channel(cases)
>>> out["tone"].tolist(), out["channel"].tolist()
(['neutral', 'neutral', 'friendly'], ['email', 'letter', 'email'])
>>> out["help_line"].tolist(), out["escalation_blocked"].tolist()
([False, False, True], [False, False, True])
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import pandas as pd

from dunning.errors import DataError
from dunning.offers import _group_rows, high_clv_mask
from dunning.policy import Channel, Policy, Tone

__all__ = ["CHANNELS", "COMMUNICATION_COLUMNS", "TONES", "choose_tone_and_channel"]

logger = logging.getLogger(__name__)

#: Tones from gentle to firm.
TONES: tuple[Tone, ...] = ("friendly", "neutral", "firm")
#: Channels a letter can be sent by.
CHANNELS: tuple[Channel, ...] = ("email", "letter", "sms")
#: Columns returned by :func:`choose_tone_and_channel`, in order.
COMMUNICATION_COLUMNS: tuple[str, ...] = (
    "tone",
    "channel",
    "help_line",
    "escalation_blocked",
    "communication_reason",
    "communication_reason_de",
)

_TONE_DE = {"friendly": "freundlich", "neutral": "neutral", "firm": "bestimmt"}
_CHANNEL_DE = {"email": "E-Mail", "letter": "Brief", "sms": "SMS"}


def _text(cases: pd.DataFrame, name: str) -> pd.Series:
    if name not in cases.columns:
        return pd.Series("", index=cases.index, dtype="str")
    return cases[name].astype("str").fillna("").str.strip()


def _flag(cases: pd.DataFrame, name: str) -> npt.NDArray[np.bool_]:
    if name not in cases.columns:
        return np.zeros(len(cases), dtype=bool)
    return np.asarray(cases[name].astype("boolean").fillna(False).to_numpy(dtype=bool))


def _good_history(cases: pd.DataFrame) -> npt.NDArray[np.bool_]:
    if "good_history" in cases.columns:
        return _flag(cases, "good_history")
    if "broken_promises" not in cases.columns or "late_12m_share" not in cases.columns:
        return np.zeros(len(cases), dtype=bool)
    broken = pd.to_numeric(cases["broken_promises"], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    late = pd.to_numeric(cases["late_12m_share"], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return np.asarray((broken == 0) & (late == 0))


def choose_tone_and_channel(cases: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """Choose tone, channel, help line and escalation hold for every case.

    The rules are in the module docstring and ``docs/offers.md``.

    Parameters
    ----------
    cases : pandas.DataFrame
        One row per case with ``level`` (int, a level of the policy). Optional columns:
        ``vulnerable`` (bool; missing: not vulnerable), ``clv`` (float, ``NaN`` allowed),
        ``good_history`` or ``broken_promises`` with ``late_12m_share``,
        ``contact_consent`` (``|``-joined channels), ``email``, ``phone``, ``street``,
        ``postal_code``, ``city``. A missing column counts as empty.
    policy : Policy or None
        The policy; ``None``: ``Policy.default("DE")``.

    Returns
    -------
    pandas.DataFrame
        Same index as ``cases``, columns :data:`COMMUNICATION_COLUMNS`: ``tone``,
        ``channel`` (str), ``help_line``, ``escalation_blocked`` (bool), and a short
        trace in English (``communication_reason``) and German
        (``communication_reason_de``).

    Raises
    ------
    DataError
        If ``level`` is missing or a level is not one of the policy's.

    Examples
    --------
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"level": [4, 4], "clv": [10.0, 900.0],
    ...     "contact_consent": ["letter", "letter"], "street": ["Weg 1", ""],
    ...     "city": ["Köln", ""]})
    >>> out = choose_tone_and_channel(cases)
    >>> out["tone"].tolist(), out["channel"].tolist()
    (['firm', 'neutral'], ['letter', 'letter'])
    >>> print(*out["communication_reason"].iloc[1].split("; "), sep="\\n")
    tone neutral: level 4 is firm, one step gentler for CLV in the top fifth
    channel letter: fallback, no usable channel among letter, email
    postal address missing
    """
    if "level" not in cases.columns:
        msg = "choose_tone_and_channel: cases lack the column 'level'; add the case level."
        raise DataError(msg, path="<cases>", missing=["level"])
    policy = Policy.default("DE") if policy is None else policy
    rules = policy.tone_and_channel
    index = cases.index
    n = len(cases)
    level = pd.to_numeric(cases["level"], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    bad = np.isnan(level) | (level < 1) | (level > policy.max_level)
    if bad.any():
        msg = (
            f"choose_tone_and_channel: {int(bad.sum())} case(s) have a level that is not one "
            f"of policy {policy.name!r} (1 to {policy.max_level}), e.g. "
            f"{cases['level'][bad].tolist()[:3]}; only cases with a letter get a tone."
        )
        raise DataError(msg, path="<cases>")
    lvl = level.astype(np.int64)

    vulnerable = _flag(cases, "vulnerable")
    clv = (
        pd.to_numeric(cases["clv"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        if "clv" in cases.columns
        else np.full(n, np.nan)
    )
    high_clv = high_clv_mask(clv, rules.gentle_tone_clv_share)
    good = _good_history(cases)

    # Tone: the level's, one step gentler for high CLV or good history, gentle if vulnerable.
    level_tone = np.array([TONES.index(r.tone) for r in policy.levels], dtype=np.int64)[lvl - 1]
    soften = (high_clv | good) & (level_tone > 0)
    tone_idx = np.where(soften, level_tone - 1, level_tone)
    gentle = TONES.index(rules.gentle_tone)
    tone_idx = np.where(vulnerable, gentle, tone_idx)
    tone = np.asarray(TONES, dtype=object)[tone_idx]

    # Channel: allowed by the level, consented where needed, contact data present; cheapest.
    consent = "|" + _text(cases, "contact_consent") + "|"
    contact = {
        "email": (_text(cases, "email") != "").to_numpy(dtype=bool),
        "sms": (_text(cases, "phone") != "").to_numpy(dtype=bool),
        "letter": (
            (_text(cases, "street") != "")
            & ((_text(cases, "postal_code") != "") | (_text(cases, "city") != ""))
        ).to_numpy(dtype=bool),
    }
    usable = np.zeros((n, len(CHANNELS)), dtype=bool)
    in_level = np.zeros((n, len(CHANNELS)), dtype=bool)
    rank = np.full((n, len(CHANNELS)), len(CHANNELS), dtype=np.int64)  # preference order
    for j, channel in enumerate(CHANNELS):
        prefs = np.array(
            [r.channels.index(channel) if channel in r.channels else -1 for r in policy.levels]
        )[lvl - 1]
        in_level[:, j] = prefs >= 0
        rank[:, j] = np.where(prefs >= 0, prefs, rank[:, j])
        consented = (
            consent.str.contains(f"|{channel}|", regex=False).to_numpy(dtype=bool)
            if channel in rules.consent_required
            else np.ones(n, dtype=bool)
        )
        usable[:, j] = in_level[:, j] & consented & contact[channel]
    costs = np.array([int(rules.channel_costs.cost(c) * 10**6) for c in CHANNELS])
    # Sort key: cost first, then the level's preference; unusable channels last.
    key = np.where(usable, costs[None, :] * (len(CHANNELS) + 1) + rank, np.iinfo(np.int64).max)
    best = np.argmin(key, axis=1)
    none_usable = np.asarray(~usable.any(axis=1), dtype=bool)
    channel_arr = np.where(none_usable, rules.fallback_channel, np.asarray(CHANNELS)[best])

    # The policy cannot switch these off (ToneChannelRules validates them as true).
    help_line = vulnerable.copy() if rules.vulnerable_help_line else np.zeros(n, dtype=bool)
    blocked = vulnerable.copy() if rules.vulnerable_hold_escalation else np.zeros(n, dtype=bool)

    reason_en, reason_de = _reasons(
        tone, level_tone, lvl, vulnerable, soften, high_clv, good, channel_arr,
        none_usable, usable, contact["letter"], rules.gentle_tone_clv_share,
        tuple(r.channels for r in policy.levels),
    )  # fmt: skip
    return pd.DataFrame(
        {
            "tone": pd.Series(tone, index=index, dtype="str"),
            "channel": pd.Series(channel_arr, index=index, dtype="str"),
            "help_line": pd.Series(help_line, index=index, dtype=bool),
            "escalation_blocked": pd.Series(blocked, index=index, dtype=bool),
            "communication_reason": pd.Series(reason_en, index=index, dtype="str"),
            "communication_reason_de": pd.Series(reason_de, index=index, dtype="str"),
        },
        index=index,
    )


def _share_words(share: float) -> tuple[str, str]:
    named = {0.1: ("tenth", "Zehntel"), 0.2: ("fifth", "Fünftel"), 0.25: ("quarter", "Viertel")}
    for value, (en, de) in named.items():
        if abs(share - value) < 1e-9:
            return f"the top {en}", f"im oberen {de}"
    pct = f"{share * 100:g}"
    return f"the top {pct}%", f"in den oberen {pct.replace('.', ',')}\u00a0%"


def _reasons(
    tone: npt.NDArray[np.object_],
    level_tone: npt.NDArray[np.int64],
    level: npt.NDArray[np.int64],
    vulnerable: npt.NDArray[np.bool_],
    soften: npt.NDArray[np.bool_],
    high_clv: npt.NDArray[np.bool_],
    good: npt.NDArray[np.bool_],
    channel: npt.NDArray[np.str_],
    fallback: npt.NDArray[np.bool_],
    usable: npt.NDArray[np.bool_],
    address: npt.NDArray[np.bool_],
    clv_share: float,
    level_channels: tuple[tuple[Channel, ...], ...],
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Short traces in English and German, as object arrays of ``str``.

    Every input takes few values, so each distinct combination is written once (one row
    of it) and the texts are gathered to the cases: no Python loop per case.
    """
    top_en, top_de = _share_words(clv_share)
    tone_code = np.zeros(len(tone), dtype=np.int64)
    for k, name in enumerate(TONES):
        tone_code[tone == name] = k
    channel_code = np.zeros(len(channel), dtype=np.int64)
    for k, via in enumerate(CHANNELS):
        channel_code[channel == via] = k
    first, group = _group_rows(
        tone_code, level_tone, level, vulnerable, soften, high_clv, good, channel_code,
        fallback, usable @ np.array([1, 2, 4])[: usable.shape[1]], address,
    )  # fmt: skip
    out_en: list[str] = []
    out_de: list[str] = []
    for i in first.tolist():
        t, lt, lv = str(tone[i]), TONES[int(level_tone[i])], int(level[i])
        if vulnerable[i]:
            en_t = f"tone {t}: vulnerable customer (gentle tone, help line, no escalation)"
            de_t = (
                f"Ton {_TONE_DE[t]}: schutzbedürftige Person "
                "(sanfter Ton, Hilfe-Hinweis, keine Eskalation)"
            )
        elif soften[i]:
            why_en = " and ".join(
                w for w, on in ((f"CLV in {top_en}", high_clv[i]), ("good history", good[i])) if on
            )
            why_de = " und ".join(
                w
                for w, on in ((f"CLV {top_de}", high_clv[i]), ("gute Zahlungshistorie", good[i]))
                if on
            )
            en_t = f"tone {t}: level {lv} is {lt}, one step gentler for {why_en}"
            de_t = f"Ton {_TONE_DE[t]}: Stufe {lv} ist {_TONE_DE[lt]}, eine Stufe sanfter: {why_de}"
        else:
            en_t = f"tone {t}: level {lv}"
            de_t = f"Ton {_TONE_DE[t]}: Stufe {lv}"
        c = str(channel[i])
        if fallback[i]:
            allowed = level_channels[lv - 1]
            en_c = f"channel {c}: fallback, no usable channel among {', '.join(allowed)}"
            de_c = f"Kanal {_CHANNEL_DE[c]}: Rückfall, kein nutzbarer Kanal unter " + ", ".join(
                _CHANNEL_DE[x] for x in allowed
            )
        else:
            others = [CHANNELS[j] for j in range(len(CHANNELS)) if usable[i, j]]
            en_c = f"channel {c}: cheapest usable of {', '.join(others)}"
            de_c = f"Kanal {_CHANNEL_DE[c]}: günstigster nutzbarer unter " + ", ".join(
                _CHANNEL_DE[x] for x in others
            )
        if c == "letter" and not address[i]:
            en_c += "; postal address missing"
            de_c += "; Postanschrift fehlt"
        out_en.append(f"{en_t}; {en_c}")
        out_de.append(f"{de_t}; {de_c}")
    return np.asarray(out_en, dtype=object)[group], np.asarray(out_de, dtype=object)[group]
