"""Find money amounts in running news text (ar, en, fr, de, es, ru).

Semantics
---------
* An amount is reported only when a currency is stated next to the number:
  a symbol (``$``, ``€``, ``US$``, ``HK$`` …), an ISO 4217 code before or after
  it (``USD 200``, ``200 EUR``) or a currency name after it (``40 مليون يورو``,
  ``5 millions d'euros``, ``3 Mrd. Euro``).  A bare "40 million" is not money.
* The number is written in digits (Latin, Arabic-Indic or Persian; any
  grouping with ``,`` ``.`` ``'`` ``٬`` or spaces; decimal ``.`` ``,`` ``٫``),
  in words for common cases ("two million", "ثلاثة ملايين", "zwei
  Millionen"), or is a lone magnitude word that means one of it ("مليون
  دولار", "тысяча рублей"; Arabic duals such as "مليونا دولار" mean two).
  A single separator followed by exactly three digits is a thousands
  separator ("1.500 Euro" = 1500), except ``.`` before an English magnitude
  ("$1.500 billion" = 1.5e9); with one or two digits after it, a decimal.
* ``value`` is the exact Decimal with the magnitude applied.
* Currency defaults: bare ``$``/dollar/dólar/доллар/دولار → USD;
  ``£``/pound/livre/libra/Pfund/фунт → GBP; ``¥``/yen → JPY; جنيه → EGP;
  ريال/riyal → SAR; درهم → AED; Franken → CHF.  Genuinely ambiguous names give
  ``currency=None``: franc, peso, rupee, dinar/دينار, lira/ليرة, Latin-script
  dirham/rial.  "kr", cents and other sub-units are ignored.
* Names that are also ordinary words (pound/livre/libra/Pfund/фунт as weights
  or books, won, rand) count only with a magnitude ("5 millions de livres").
* Not money: numbers glued to letters or after ``X-`` (F-16, iPhone15),
  numbers followed by ``%``, parts of dates/times/phone numbers, currency
  words joined by a hyphen ("500-pound bomb", "a million-dollar home").
* Ranges ("between 40 and 70 million euros", "$5-7bn", "от 40 до 70 млн
  рублей") give two amounts with ``range_role`` low/high; the lower end takes
  the shared magnitude (when it is not larger than the upper number) and
  currency, but its span covers only its own tokens.
* ``approximate`` and ``bound`` ("min"/"max") come from words just before the
  amount ("about", "حوالي", "plus de", "bis zu", "до" …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from monitor.money import words as W
from monitor.money.scan import DIGITS, candidate_starts
from monitor.money.scan import is_letter as _is_letter
from monitor.text.words import FoldedText

__all__ = ["Amount", "find_amounts"]


@dataclass(frozen=True, slots=True)
class Amount:
    text: str
    value: Decimal
    currency: str | None
    start: int
    end: int
    approximate: bool = False
    bound: str | None = None
    range_role: str | None = None


_D = DIGITS
_NUM = re.compile(
    rf"(?:[{_D}]{{1,3}}(?P<sep>[,.'’\u066c \u00a0\u202f])[{_D}]{{3}}(?![{_D}])"
    rf"(?:(?P=sep)[{_D}]{{3}}(?![{_D}]))*+|[{_D}]++)(?:(?P<dec>[.,\u066b])(?P<frac>[{_D}]++))?"
)
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|[\u064b-\u065f\u0670\u0640])*")
_SP = re.compile(r"[ \t\u00a0\u202f]*")
_JOIN = re.compile(r"[ \t\u00a0\u202f]+|-|\.[ \t\u00a0\u202f]?")
_DE = re.compile(r"(?:de[ \t\u00a0\u202f]+|d['’][ \t\u00a0\u202f]*)", re.IGNORECASE)
_ISO = re.compile(r"[A-Z]{3}(?![^\W\d_])")
_PREFIX_SYM = re.compile(
    r"(?:(?P<iso>(?i:USD|CAD|AUD|NZD|HKD|SGD|MXN))\$|(?P<pre>U\.S\.|US|CAN|CA|C|AU|A|(?i:HK|NZ)|NT|SG|S|R|MX|Mex)"
    r"[ \t]?\$|U\$[SD]|E£|[$€£¥₽₹₺₩₪₴₦₱฿₫₸])"
)
_SUFFIX_SYM = re.compile(
    r"(?:\$[ \t]?(?P<post>(?i:USD|US|CAD|CAN|CA|AUD|AU|HKD|HK|NZD|NZ)|C)(?![^\W\d_])"
    r"|[$€£¥₽₹₺₩₪₴₦₱฿₫₸])"
)
_M_ISO = re.compile(r"M(?P<code>USD|EUR|GBP|AUD|CAD|CHF|SEK|NOK|DKK)(?![^\W\d_])")
_BAD_AFTER = re.compile(rf"[.,:/\u066b\u066c][{_D}]|[ \t\u00a0\u202f]*[%٪‰]|-[^\W\d_]")
_CONNECTOR = re.compile(
    rf"[ \t\u00a0\u202f]*(?:(?P<dash>[-–—‒])|(?P<and>(?:{W.RANGE_AND})(?![^\W\d_]))"
    rf"|(?P<to>(?:{W.RANGE_TO})(?![^\W\d_])))[ \t\u00a0\u202f]*",
    re.IGNORECASE,
)


@dataclass(slots=True)
class _Part:
    start: int  # start of the amount's own text (prefix symbol or number)
    num_start: int
    qty_end: int  # end of number + magnitude
    end: int  # end of the whole own text (after a suffix currency)
    value: Decimal
    mag: Decimal | None
    currency: str | None
    has_currency: bool
    prefix: bool  # currency came from a prefix symbol/code


def _skip(text: str, pos: int) -> int:
    """Position after blanks (no newlines) from pos."""
    m = _SP.match(text, pos)
    return m.end() if m else pos


def _left_ok(text: str, pos: int) -> bool:
    """May a number start at pos (nothing glued to it on the left)?"""
    if pos == 0:
        return True
    c = text[pos - 1]
    before = text[pos - 2] if pos >= 2 else " "
    if c == "ـ" and before in "وبل":  # "بـ40"
        c, before = before, text[pos - 3] if pos >= 3 else " "
    if _is_letter(c):
        return c in "وبل" and not _is_letter(before)
    if c in "-‐" and before.isalnum():
        return False
    if c in ".,:/\u066b\u066c" and before.isdigit():
        return False
    return c not in "+#№_" and not c.isdigit()


_Table = dict[str, str | None] | dict[str, Decimal]


_KEY_PREFIXES: dict[int, frozenset[str]] = {}


def _key_prefixes(table: _Table) -> frozenset[str]:
    """Every key of the table cut before one of its joins: "mil millones" gives "mil " too."""
    prefixes = _KEY_PREFIXES.get(id(table))
    if prefixes is None:
        prefixes = frozenset(
            key[: m.end()]
            for key in table
            for m in re.finditer(r"[ .\-]", key)
            if m.end() < len(key)
        )
        _KEY_PREFIXES[id(table)] = prefixes
    return prefixes


def _phrase(text: str, pos: int, table: _Table, maxw: int) -> tuple[str, int] | None:
    """Longest key of table made of up to maxw words starting at pos."""
    best: tuple[str, int] | None = None
    key = ""
    p = pos
    prefixes = _key_prefixes(table)
    for _ in range(maxw):
        m = _WORD.match(text, p)
        if m is None:
            break
        key += W.norm(m.group())
        if key in table:
            best = (key, m.end())
        j = _JOIN.match(text, m.end())
        if j is None:
            break
        key += " " if j.group()[0] in " \t\u00a0\u202f" else j.group().strip()
        if key not in prefixes:
            break  # no longer key of the table goes on this way
        p = j.end()
    return best


def _number(text: str, pos: int) -> tuple[Decimal, int, str | None] | None:
    """Digits at pos → (value, end, grouping separator if a lone ./, group)."""
    m = _NUM.match(text, pos)
    if m is None:
        return None
    sep, dec = m.group("sep"), m.group("dec")
    if sep is not None and dec is not None and (sep == dec or (sep == "\u066c" and dec == ",")):
        return None
    if _BAD_AFTER.match(text, m.end()):
        return None
    raw = m.group().translate(_DIGITS)
    body = raw[: m.start("dec") - m.start()] if dec else raw
    lone = None
    if sep is not None and sep in ".," and body.count(sep) == 1 and dec is None:
        lone = sep
    intpart = "".join(ch for ch in body if ch.isdigit())
    val = Decimal(intpart + ("." + m.group("frac").translate(_DIGITS) if dec else ""))
    return val, m.end(), lone


def _magnitudes(text: str, pos: int) -> tuple[Decimal, int, str] | None:
    """Magnitude words after a number: ("million", "mil millones", "Mrd.")."""
    total: Decimal | None = None
    first = ""
    end = pos
    while True:
        p = _skip(text, end)
        if p < len(text) and text[p] == "-" and total is None and p == pos:
            p += 1  # "$5-billion"
        hit = _phrase(text, p, W.MAGNITUDES, 2)
        if hit is None:
            break
        key, e = hit
        val = W.MAGNITUDES[key]
        if total is not None and val <= total:
            break
        if key in W.DOT_ABBR and text[e : e + 1] == ".":
            e += 1
        total, end = (val if total is None else total * val), e
        first = first or key
    return (total, end, first) if total is not None else None


def _simple_quantity(text: str, pos: int) -> tuple[Decimal, int, int, Decimal | None] | None:
    """Number (+ magnitudes) at pos → (value, start, end, magnitude)."""
    start = pos
    num = _number(text, pos)
    if num is not None:
        val, end, lone = num
        if end < len(text) and _is_letter(text[end]) and _magnitudes(text, end) is None:
            iso = _ISO.match(text, end)
            if iso is None or iso.group() not in W.ISO_CODES:
                return None  # "15th", "3D", "737MAX" (but "115USD")
        mags = _magnitudes(text, end)
        if mags is None:
            return val, start, end, None
        if lone == "." and mags[2] in W.EN_MAGS:
            val = val / 1000
        return val * mags[0], start, mags[1], mags[0]
    w = _WORD.match(text, pos)
    if w is None:
        return None
    word, rest = W.norm(w.group()), W.norm(w.group()[1:])
    if not word:  # a tatweel, or marks, alone: no word once normalised
        return None
    proclitic = word[0] in "وب" and word not in W.WORD_NUMBERS
    if proclitic and (rest in W.WORD_NUMBERS or rest in W.BARE_MAGS):  # "وثلاثة", "بمليون"
        start = pos + 1
    hit = _phrase(text, start, W.WORD_NUMBERS, 3)
    need = _phrase(text, start, W.NEED_MAG, 2)
    if hit is not None and (need is None or need[1] <= hit[1]):
        val, end = W.WORD_NUMBERS[hit[0]], hit[1]
    elif need is not None:
        val, end = W.NEED_MAG[need[0]], need[1]
    else:
        bare = _phrase(text, start, W.MAGNITUDES, 1)
        if bare is None or bare[0] not in W.BARE_MAGS:
            return None
        mag = W.MAGNITUDES[bare[0]]
        more = _magnitudes(text, bare[1])
        if more is not None and more[0] > mag:
            return mag * W.BARE_MAGS[bare[0]] * more[0], start, more[1], more[0]
        return mag * W.BARE_MAGS[bare[0]], start, bare[1], mag
    mags = _magnitudes(text, end)
    if mags is None:
        if hit is None or (need is not None and need[1] >= hit[1]):
            return None  # "a", "half a" need a magnitude
        return val, start, end, None
    return val * mags[0], start, mags[1], mags[0]


_AND = re.compile(
    r"[ \t\u00a0\u202f]*(?:و[ \t\u00a0\u202f]*|(?i:and|et|und|y|и)[ \t\u00a0\u202f]+)"
)
_HALF_AR = re.compile(r"نصف(?![^\W\d_])")


def _quantity(text: str, pos: int) -> tuple[Decimal, int, int, Decimal | None] | None:
    """A quantity, with the compounds that add a smaller part after "and": "3 مليارات و200
    مليون" (3.2 billion), "two billion and 300 million", "مليون ونصف" (1.5 million)."""
    first = _simple_quantity(text, pos)
    if first is None:
        return None
    value, start, end, mag = first
    if mag is None:
        return first
    joined = _AND.match(text, end)
    if joined is None:
        return first
    half = _HALF_AR.match(text, joined.end())
    if half is not None:
        return value + mag / 2, start, half.end(), mag
    rest = _simple_quantity(text, joined.end())
    if rest is None or rest[3] is None or rest[3] >= mag:
        return first  # "بين 3 مليارات و5 مليارات": a range, not a sum
    return value + rest[0], start, rest[2], mag


_ONE, _MEGA = Decimal(1), Decimal(1_000_000)
_Suffix = tuple[str | None, int, bool, Decimal]


def _suffix(text: str, pos: int, mag: Decimal | None) -> _Suffix | None:
    """Currency after the quantity → (code, end, needs-magnitude name, scale)."""
    p = _skip(text, pos)
    de = _DE.match(text, p) if mag is not None else None
    if de is not None and _SUFFIX_SYM.match(text, de.end()):
        p = de.end()  # "14 millions de $"
    if mag is None and (mi := _M_ISO.match(text, p)) is not None:
        return mi.group("code"), mi.end(), False, _MEGA  # "30 MUSD"
    m = _SUFFIX_SYM.match(text, p)
    if m is not None:
        if re.match(rf"[ \t\u00a0\u202f]*[{_D}]", text[m.end() : m.end() + 3]):
            return None  # "2022 $5m": the symbol belongs to the next amount
        post = (m.group("post") or "").upper()
        if not post:
            return W.SYMBOLS[m.group()], m.end(), False, _ONE
        iso_post = len(post) == 3 and post != "CAN"
        return (post if iso_post else W.DOLLAR_PREFIXES[post]), m.end(), False, _ONE
    iso = _ISO.match(text, p)
    if iso is not None and iso.group() in W.ISO_CODES and text[iso.end() : iso.end() + 1] != "/":
        return ("CNY" if iso.group() == "RMB" else iso.group()), iso.end(), False, _ONE
    if mag is not None:
        de = _DE.match(text, p)
        if de is not None and _phrase(text, de.end(), W.CURRENCY_NAMES, 4) is not None:
            p = de.end()  # "millions d'euros", "millones de dólares"
    hit = _phrase(text, p, W.CURRENCY_NAMES, 4)
    if hit is None:
        return None
    key, end = hit
    if text[end : end + 1] == "-" and _is_letter(text[end + 1 : end + 2] or " "):
        return None  # "euro-denominated"
    if key in W.DOT_ABBR and text[end : end + 1] == ".":
        end += 1
    return W.CURRENCY_NAMES[key], end, key in W.WEAK_NAMES, _ONE


def _part(text: str, pos: int, glued: bool) -> _Part | None:
    """One amount (or one range end) starting at pos."""
    code: str | None = None
    prefix = False
    p = pos
    m = _PREFIX_SYM.match(text, pos)
    if m is not None and not (m.group("pre") and pos > 0 and _is_letter(text[pos - 1])):
        code, prefix = _sym_code(m), True
    else:
        iso = _ISO.match(text, pos)
        before = text[pos - 1] if pos else " "
        if (
            iso is not None
            and iso.group() in W.ISO_CODES
            and before != "/"
            and not _is_letter(before)
            and text[iso.end() : iso.end() + 1] != "/"
        ):
            code, prefix, m = ("CNY" if iso.group() == "RMB" else iso.group()), True, iso
    if prefix and m is not None:
        p = _skip(text, m.end())
    elif not glued and not _left_ok(text, pos):
        return None
    q = _quantity(text, p)
    if q is None:
        return None
    val, qstart, qend, mag = q
    if prefix:
        if text[qend - 1] == ".":
            qend -= 1  # "$5 млрд." ends the sentence; the dot is not the amount's
        return _Part(pos, qstart, qend, qend, val, mag, code, True, True)
    suf = _suffix(text, qend, mag)
    if suf is None:
        return _Part(qstart, qstart, qend, qend, val, mag, None, False, False)
    code, end, weak, scale = suf
    if weak and mag is None:
        return None
    if scale != _ONE:
        val, mag = val * scale, scale
    return _Part(qstart, qstart, qend, end, val, mag, code, True, False)


def _sym_code(m: re.Match[str]) -> str:
    """ISO code for a prefix symbol match."""
    if m.group("iso"):
        return m.group("iso").upper()
    pre = m.group("pre")
    if pre:
        return W.DOLLAR_PREFIXES.get(pre, W.DOLLAR_PREFIXES.get(pre.upper(), "USD"))
    return "EGP" if m.group() == "E£" else W.SYMBOLS.get(m.group()[-1:], "USD")


def _clean(v: Decimal) -> Decimal:
    return Decimal(int(v)) if v == v.to_integral_value() else v.normalize()


def _amount(text: str, p: _Part, role: str | None, approx: bool, bound: str | None) -> Amount:
    span = text[p.start : p.end]
    return Amount(span, _clean(p.value), p.currency, p.start, p.end, approx, bound, role)


def _qualifiers(text: str, start: int) -> tuple[bool, str | None]:
    win = text[max(0, start - 40) : start]
    bound = "min" if W.MIN_L.search(win) else "max" if W.MAX_L.search(win) else None
    return bool(W.APPROX_L.search(win)), bound


def _is_year_trap(text: str, p: _Part) -> bool:
    """True for "in 2022 dollars" (constant dollars), which is not an amount."""
    raw = text[p.num_start : p.qty_end]
    return (
        p.mag is None
        and not p.prefix
        and len(raw) == 4
        and raw.isdigit()
        and 1900 <= int(raw) <= 2100
        and bool(W.YEAR_L.search(text[max(0, p.start - 10) : p.start]))
    )


def find_amounts(text: str, folded: FoldedText | None = None) -> list[Amount]:
    """All money amounts in text, sorted by start offset. ``folded`` is ``text`` folded, when
    the caller has it (``Matcher.examine`` shares it with rule matching)."""
    out: list[Amount] = []
    done = 0
    for start in candidate_starts(text, folded):
        if start < done:
            continue
        a = _part(text, start, glued=False)
        if a is None:
            continue
        conn = _CONNECTOR.match(text, a.end if a.has_currency and not a.prefix else a.qty_end)
        b = None
        if conn is not None:
            sm = W.START_L.search(text[max(0, a.start - 12) : a.start])
            start_word = W.norm(sm.group("w")) if sm else ""
            ok = conn.group("and") is None or start_word in W.BETWEEN
            b = _part(text, conn.end(), glued=True) if ok else None
            if b is not None:
                # b may inherit only a prefix symbol, and only in "$5-7bn" / "from $5 to 7m"
                inherit = a.prefix and bool(conn.group("dash") or start_word)
                if not b.has_currency and not inherit:
                    b = None
        if b is not None and a.mag is None and b.mag is not None and a.value < b.value / b.mag:
            a.value, a.mag = a.value * b.mag, b.mag  # "between 40 and 70 million"
        if b is not None and a.value < b.value:  # not "1 janvier 1990 à 1015 francs"
            if not a.has_currency:
                a.currency, a.has_currency = b.currency, True
            if not b.has_currency:
                b.currency, b.has_currency = a.currency, True
            approx = _qualifiers(text, a.start)[0]
            out.append(_amount(text, a, "low", approx, None))
            out.append(_amount(text, b, "high", approx, None))
            done = b.end
            continue
        if not a.has_currency or _is_year_trap(text, a):
            continue
        approx, bound = _qualifiers(text, a.start)
        out.append(_amount(text, a, None, approx, bound))
        done = a.end
    return sorted(out, key=lambda x: x.start)
