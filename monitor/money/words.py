"""Word tables for :mod:`monitor.money` (ar, en, fr, de, es, ru).

Keys are written naturally here and normalised by :func:`norm` when the
tables are built (lower case, Arabic diacritics and tatweel removed, alef
variants unified, ``ё`` → ``е``, typographic apostrophe → ``'``).
Multi-word keys use a single space, ``-`` or ``.`` between words, exactly as
:func:`monitor.money.amounts._phrase` joins them.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")
_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ё": "е", "’": "'"})


@lru_cache(maxsize=100_000)
def norm(word: str) -> str:
    """Normalise a word or phrase for table look-up."""
    return _MARKS.sub("", word).translate(_ALEF).lower()


def _split(spec: str, sep: str = " ") -> list[str]:
    return spec.split(sep)


def _kv(spec: str) -> dict[str, int]:
    """``"ألف:1 مليون:1"`` → ``{"ألف": 1, "مليون": 1}``."""
    return {k: int(v) for k, v in (item.rsplit(":", 1) for item in spec.split())}


def _table(pairs: dict[str, str | None]) -> dict[str, str | None]:
    return {norm(k): v for k, v in pairs.items()}


def _expand(spec: str, code: str | None) -> dict[str, str | None]:
    """``"dollar|dollars"`` → both forms mapped to ``code``."""
    return {form: code for form in spec.split("|")}


# --- currency names (after the number) -------------------------------------
_NAMES: dict[str, str | None] = {}
for _spec, _code in [
    # English
    ("dollar|dollars|us dollar|us dollars|u.s.dollar|u.s.dollars|american dollars", "USD"),
    ("canadian dollar|canadian dollars", "CAD"),
    ("australian dollar|australian dollars", "AUD"),
    ("new zealand dollar|new zealand dollars", "NZD"),
    ("hong kong dollar|hong kong dollars", "HKD"),
    ("singapore dollar|singapore dollars", "SGD"),
    ("taiwan dollars|new taiwan dollars", "TWD"),
    ("euro|euros|eur", "EUR"),
    ("pound|pounds|pound sterling|pounds sterling|british pounds|sterling", "GBP"),
    ("egyptian pound|egyptian pounds", "EGP"),
    ("lebanese pound|lebanese pounds", "LBP"),
    ("syrian pound|syrian pounds", "SYP"),
    ("yen|japanese yen", "JPY"),
    ("yuan|chinese yuan|renminbi", "CNY"),
    ("rouble|roubles|ruble|rubles|russian roubles|russian rubles", "RUB"),
    ("rupee|rupees|franc|francs|cfa francs|lira|liras|lire|peso|pesos|dinar|dinars", None),
    ("dirham|dirhams|rial|rials|kroner|kronor|krona", None),
    ("indian rupee|indian rupees", "INR"),
    ("pakistani rupee|pakistani rupees", "PKR"),
    ("sri lankan rupees", "LKR"),
    ("swiss franc|swiss francs", "CHF"),
    ("turkish lira|turkish liras", "TRY"),
    ("riyal|riyals|saudi riyal|saudi riyals", "SAR"),
    ("qatari riyal|qatari riyals", "QAR"),
    ("iranian rial|iranian rials", "IRR"),
    ("uae dirham|uae dirhams|emirati dirhams", "AED"),
    ("moroccan dirham|moroccan dirhams", "MAD"),
    ("kuwaiti dinar|kuwaiti dinars", "KWD"),
    ("jordanian dinars|jordanian dinar", "JOD"),
    ("iraqi dinars|iraqi dinar", "IQD"),
    ("shekel|shekels|new shekels", "ILS"),
    ("hryvnia|hryvnias|hryvnia", "UAH"),
    ("mexican peso|mexican pesos", "MXN"),
    ("argentine pesos|argentine peso", "ARS"),
    ("philippine pesos", "PHP"),
    ("reais|brazilian reais|brazilian real", "BRL"),
    ("rand|south african rand", "ZAR"),
    ("naira", "NGN"),
    ("rupiah", "IDR"),
    ("ringgit", "MYR"),
    ("baht", "THB"),
    ("won|south korean won|korean won", "KRW"),
    ("zloty|zlotys|zlotych", "PLN"),
    ("forint|forints", "HUF"),
    ("swedish kronor|swedish crowns", "SEK"),
    ("norwegian kroner", "NOK"),
    ("danish kroner", "DKK"),
    ("finnish markka|markka|markkaa", "FIM"),
    ("peseta|pesetas", "ESP"),
    # French
    ("dollars américains|dollar américain|dollars us|dollars des états-unis", "USD"),
    ("dollars canadiens|dollar canadien", "CAD"),
    ("dollars australiens|dollar australien", "AUD"),
    ("dollars de hong kong", "HKD"),
    ("dollars néo-zélandais", "NZD"),
    ("livre|livres|livre sterling|livres sterling", "GBP"),
    ("livres égyptiennes|livre égyptienne", "EGP"),
    ("livres turques|livre turque", "TRY"),
    ("livres libanaises", "LBP"),
    ("franc suisse|francs suisses", "CHF"),
    ("roupie|roupies|francs cfa|franc cfa", None),
    ("roupies indiennes|roupie indienne", "INR"),
    ("yens|yuans|yen japonais|yuan chinois|yuans chinois", None),
    ("pesos mexicains|peso mexicain", "MXN"),
    # German
    ("us-dollar|us-dollars|dollar", "USD"),
    ("pfund|pfund sterling|britische pfund|britischen pfund", "GBP"),
    ("franken|schweizer franken", "CHF"),
    ("rubel|russische rubel", "RUB"),
    ("türkische lira|türkischen lira", "TRY"),
    ("kanadische dollar|kanadischen dollar", "CAD"),
    ("australische dollar|australischen dollar", "AUD"),
    ("rupien", None),
    ("indische rupien", "INR"),
    # Spanish
    ("dólar|dólares|dolar|dolares|dólares estadounidenses|dólares americanos", "USD"),
    ("dólares canadienses|dólar canadiense", "CAD"),
    ("dólares australianos|dólar australiano", "AUD"),
    ("dólares de hong kong", "HKD"),
    ("dólares neozelandeses|dólar neozelandés", "NZD"),
    ("libra|libras|libra esterlina|libras esterlinas", "GBP"),
    ("peso mexicano|pesos mexicanos", "MXN"),
    ("pesos argentinos|peso argentino", "ARS"),
    ("pesos chilenos|peso chileno", "CLP"),
    ("pesos colombianos|peso colombiano", "COP"),
    ("rublo|rublos", "RUB"),
    ("yenes|yen japonés", "JPY"),
    ("yuanes|yuan chino", "CNY"),
    ("franco suizo|francos suizos", "CHF"),
    ("franco|francos|rupias", None),
    ("reales brasileños", "BRL"),
    ("bolívares", "VES"),
    # Russian
    ("рубль|рубля|рублей|руб|российских рублей", "RUB"),
    ("доллар|доллара|долларов|долл|долларов сша|доллара сша|американских долларов", "USD"),
    ("канадских долларов", "CAD"),
    ("австралийских долларов", "AUD"),
    ("евро", "EUR"),
    ("фунт|фунта|фунтов|фунт стерлингов|фунта стерлингов|фунтов стерлингов", "GBP"),
    ("юань|юаня|юаней", "CNY"),
    ("иена|иены|иен|йена|йены|йен", "JPY"),
    ("швейцарских франков|швейцарского франка|швейцарских франка", "CHF"),
    ("франк|франка|франков|рупий|лир|лиры", None),
    ("турецких лир", "TRY"),
    ("гривна|гривны|гривен|гривень", "UAH"),
    ("тенге", "KZT"),
    ("белорусских рублей", "BYN"),
    # Arabic
    ("دولار|دولارات|دولارا|دولاري|دولارين|دولاران|دولار أمريكي|دولار أميركي", "USD"),
    ("دولارات أمريكية|دولارات أميركية|الدولارات", "USD"),
    ("دولار كندي", "CAD"),
    ("دولار أسترالي", "AUD"),
    ("يورو", "EUR"),
    ("جنيه|جنيهات|جنيها|جنيه مصري|جنيهات مصرية", "EGP"),
    ("جنيه إسترليني|جنيه استرليني|جنيهات إسترلينية|جنيهات استرلينية|إسترليني", "GBP"),
    ("ريال|ريالات|ريالا|ريال سعودي|ريالات سعودية", "SAR"),
    ("ريال قطري|ريالات قطرية", "QAR"),
    ("ريال عماني", "OMR"),
    ("ريال إيراني|ريالات إيرانية", "IRR"),
    ("ريال يمني", "YER"),
    ("درهم|دراهم|درهما|درهم إماراتي", "AED"),
    ("درهم مغربي", "MAD"),
    ("دينار|دنانير|دينارا", None),
    ("دينار كويتي", "KWD"),
    ("دينار أردني", "JOD"),
    ("دينار عراقي", "IQD"),
    ("دينار بحريني", "BHD"),
    ("دينار تونسي", "TND"),
    ("دينار جزائري", "DZD"),
    ("دينار ليبي", "LYD"),
    ("ليرة|ليرات", None),
    ("ليرة تركية|ليرات تركية", "TRY"),
    ("ليرة لبنانية|ليرات لبنانية", "LBP"),
    ("ليرة سورية|ليرات سورية", "SYP"),
    ("روبل|روبلات", "RUB"),
    ("ين|ين ياباني", "JPY"),
    ("يوان", "CNY"),
    ("فرنك سويسري", "CHF"),
    ("فرنك|روبية", None),
    ("روبية هندية", "INR"),
    ("شيكل|شيقل", "ILS"),
]:
    _NAMES.update(_expand(_spec, _code))
_NAMES.update({"yens": "JPY", "yuans": "CNY", "yen japonais": "JPY"})
_NAMES.update({"yuan chinois": "CNY", "yuans chinois": "CNY"})
CURRENCY_NAMES = _table(_NAMES)

# Names that are also ordinary words (weight, books, verbs): only money when
# the amount carries a magnitude word ("5 millions de livres").
WEAK_NAMES = frozenset(
    norm(w)
    for w in _split("pound pounds livre livres libra libras pfund фунт фунта фунтов won rand")
)
# Abbreviations that may carry a trailing dot ("руб.", "Mio.").
DOT_ABBR = frozenset(_split("руб долл mio mrd md mds тыс млн млрд трлн tsd"))

# --- symbols and ISO codes ---------------------------------------------------
SYMBOLS: dict[str, str] = dict(
    zip(
        "$€£¥₽₹₺₩₪₴₦₱฿₫₸",
        _split("USD EUR GBP JPY RUB INR TRY KRW ILS UAH NGN PHP THB VND KZT"),
        strict=True,
    )
)
DOLLAR_PREFIXES: dict[str, str] = dict(
    item.split(":")
    for item in _split(
        "US:USD U.S.:USD C:CAD CA:CAD CAN:CAD A:AUD AU:AUD HK:HKD NZ:NZD NT:TWD S:SGD SG:SGD "
        "R:BRL MX:MXN Mex:MXN"
    )
)
ISO_CODES = frozenset(
    _split(
        "USD EUR GBP JPY CNY RMB CHF CAD AUD NZD HKD SGD RUB INR TRY KRW ILS SAR AED EGP KWD QAR "
        "BHD OMR JOD IQD LBP SYP MAD DZD TND LYD BRL MXN ARS CLP COP ZAR NGN SEK NOK DKK PLN CZK "
        "HUF UAH KZT IRR PKR IDR MYR THB PHP VND TWD BYN"
    )
)

# --- magnitudes --------------------------------------------------------------
_E3, _E5, _E6, _E7, _E9, _E12 = (Decimal(10) ** n for n in (3, 5, 6, 7, 9, 12))
_MAGS: dict[str, Decimal] = {}
for _spec, _val in [
    ("thousand|k|mille|tausend|tsd|mil|тысяча|тысячи|тысяч|тысячу|тыс", _E3),
    ("ألف|آلاف|ألفا|ألفي|ألفين|ألفان", _E3),
    ("million|millions|m|mn|mln|mm|mio|millionen|millón|millon|millones", _E6),
    ("миллион|миллиона|миллионов|млн|مليون|ملايين|مليونا|مليوني|مليونين|مليونان", _E6),
    ("billion|bn|b|bln|milliard|milliards|md|mds|mrd|mrds|milliarde|milliarden", _E9),
    ("millardo|millardos|миллиард|миллиарда|миллиардов|млрд", _E9),
    ("مليار|مليارات|مليارا|ملياري|مليارين|ملياران|بليون", _E9),
    ("trillion|tn|trn|billionen|billón|billones|триллион|триллиона|триллионов|трлн", _E12),
    ("ترليون|تريليون|تريليونات|ترليونات", _E12),
    ("hundred|hundert", Decimal(100)),
    ("crore|crores", _E7),
    ("lakh|lakhs", _E5),
]:
    _MAGS.update({w: _val for w in _spec.split("|")})
_MAGS.update({"полмиллиона": _E6 / 2, "полмиллиарда": _E9 / 2, "demi-milliard": _E9 / 2})
MAGNITUDES = {norm(k): v for k, v in _MAGS.items()}
# Magnitude words that stand alone for "one/two of them" (no number before).
BARE_MAGS: dict[str, int] = {
    norm(k): v
    for k, v in _kv(
        "ألف:1 مليون:1 مليار:1 ترليون:1 تريليون:1 بليون:1 ألفا:2 ألفي:2 ألفين:2 ألفان:2 "
        "مليونا:2 مليوني:2 مليونين:2 مليونان:2 مليارا:2 ملياري:2 مليارين:2 ملياران:2 "
        "mil:1 mille:1 tausend:1 millón:1 тысяча:1 тысячу:1 миллион:1 миллиард:1 триллион:1 "
        "полмиллиона:1 полмиллиарда:1"
    ).items()
}
# Magnitudes after which "." + 3 digits is a decimal point (English usage).
EN_MAGS = frozenset(["million", "billion", "trillion", "bn", "m", "mn", "tn", "b"])

# --- numbers in words --------------------------------------------------------
_UNITS: dict[str, list[str]] = {
    "en": _split("one two three four five six seven eight nine ten"),
    "fr": _split("un deux trois quatre cinq six sept huit neuf dix"),
    "de": _split("ein zwei drei vier fünf sechs sieben acht neun zehn"),
    "es": _split("un dos tres cuatro cinco seis siete ocho nueve diez"),
    "ru": _split("один два три четыре пять шесть семь восемь девять десять"),
    "ar": _split("واحد اثنان ثلاثة أربعة خمسة ستة سبعة ثمانية تسعة عشرة"),
}
_TENS: dict[str, list[str]] = {
    "en": _split("twenty thirty forty fifty sixty seventy eighty ninety"),
    "fr": _split(
        "vingt trente quarante cinquante soixante soixante-dix quatre-vingt quatre-vingt-dix"
    ),
    "de": _split("zwanzig dreißig vierzig fünfzig sechzig siebzig achtzig neunzig"),
    "es": _split("veinte treinta cuarenta cincuenta sesenta setenta ochenta noventa"),
    "ru": _split("двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто"),
    "ar": _split("عشرون ثلاثون أربعون خمسون ستون سبعون ثمانون تسعون"),
}
_EXTRA: dict[str, int] = _kv(
    "eleven:11 twelve:12 fifteen:15 onze:11 douze:12 quinze:15 une:1 quatre-vingts:80 eine:1 "
    "einen:1 einer:1 elf:11 zwölf:12 uno:1 una:1 once:11 doce:12 quince:15 одна:1 одну:1 две:2 "
    "пятнадцать:15 сто:100 двести:200 триста:300 пятьсот:500 واحدة:1 اثنين:2 اثنتين:2 اثنتان:2 "
    "ثلاث:3 أربع:4 خمس:5 ست:6 سبع:7 ثماني:8 ثمان:8 تسع:9 عشر:10 مئة:100 مائة:100 مئتي:200 "
    "مئتا:200 مائتي:200 مائتا:200 ثلاثمئة:300 ثلاثمائة:300 خمسمئة:500 خمسمائة:500 cien:100 "
    "ciento:100 hundert:100 quinientos:500 quinientas:500 cent:100"
)
for _i, _w in enumerate(
    "thirteen fourteen fifteen sixteen seventeen eighteen nineteen|treize quatorze quinze seize "
    "dix-sept dix-huit dix-neuf|dreizehn vierzehn fünfzehn sechzehn siebzehn achtzehn neunzehn|"
    "trece catorce quince dieciséis diecisiete dieciocho diecinueve|тринадцать четырнадцать "
    "пятнадцать шестнадцать семнадцать восемнадцать девятнадцать".replace("|", " ").split()
):
    _EXTRA[_w] = 13 + _i % 7
for _i, _w in enumerate(_split("zwei drei vier fünf sechs sieben acht neun")):
    _EXTRA[_w + "hundert"] = (_i + 2) * 100
for _i, _w in enumerate(_split("dos tres cuatro _ seis sete ocho nove")):
    _EXTRA[_w + "cientos"] = _EXTRA[_w + "cientas"] = (_i + 2) * 100
_EXTRA.update({"setecientos": 700, "novecientos": 900, "deux cents": 200, "trois cents": 300})
for _i, _w in enumerate(_split("четыреста _ шестьсот семьсот восемьсот девятьсот")):
    _EXTRA[_w] = (_i + 4) * 100
# Words that only count as a number when a magnitude follows.
HALF = Decimal("0.5")
NEED_MAG: dict[str, Decimal] = {norm(k): Decimal(1) for k in _split("a an one")}
NEED_MAG.update({norm(k): HALF for k in _split("half a|eine halbe|medio|نصف|un demi", "|")})


def _word_numbers() -> dict[str, Decimal]:
    out: dict[str, int] = dict(_EXTRA)
    for lang, units in _UNITS.items():
        out.update({u: i + 1 for i, u in enumerate(units)})
        for t, ten in enumerate(_TENS[lang]):
            tv = (t + 2) * 10
            out[ten] = tv
            for u, unit in enumerate(units[:9]):
                uv = u + 1
                if lang == "en":
                    out[f"{ten}-{unit}"] = out[f"{ten} {unit}"] = tv + uv
                elif lang == "fr":
                    out[f"{ten}-{unit}"] = tv + uv
                    out[f"{ten} et un"] = out[f"{ten}-et-un"] = tv + 1
                elif lang == "de":
                    out[f"{'ein' if uv == 1 else unit}und{ten}"] = tv + uv
                elif lang == "es":
                    out[f"{ten} y {unit}"] = tv + uv
                    if tv == 20:
                        out[f"veinti{unit}"] = tv + uv
                elif lang == "ru":
                    out[f"{ten} {unit}"] = tv + uv
                else:
                    for acc in (ten, ten[:-2] + "ين"):
                        out[acc] = tv
                        out[f"{unit} و{acc}"] = out[f"{unit} و {acc}"] = tv + uv
    out.update({f"soixante-{w}": 70 + i for i, w in enumerate(["onze", "douze"], 1)})
    return {norm(k): Decimal(v) for k, v in out.items()}


WORD_NUMBERS = _word_numbers()

# --- qualifiers and range words (matched at the end of the left context) ------
APPROX_WORDS = (
    "about|around|approximately|roughly|nearly|almost|some|an estimated|circa|approx|"
    "حوالي|حوالى|نحو|قرابة|زهاء|ما يقارب|ما يقرب من|تقريبا|"
    "environ|près de|presque|quelque|approximativement|"
    "etwa|rund|ungefähr|fast|knapp|ca\\.|circa|"
    "alrededor de|cerca de|casi|aproximadamente|unos|unas|"
    "около|почти|примерно|порядка|приблизительно"
)
MIN_WORDS = (
    "more than|over|above|at least|in excess of|upwards of|"
    "أكثر من|ما يزيد على|ما يزيد عن|أزيد من|ما لا يقل عن|"
    "plus de|au moins|über|mehr als|mindestens|más de|al menos|por lo menos|"
    "более|свыше|больше|не менее|как минимум|более чем"
)
MAX_WORDS = (
    "up to|less than|under|below|at most|no more than|as much as|"
    "حتى|أقل من|ما يصل إلى|ما يصل الى|لا يتجاوز|"
    "jusqu'à|jusqu’à|moins de|au plus|au maximum|bis zu|weniger als|höchstens|maximal|unter|"
    "hasta|menos de|como máximo|до|не более|менее|меньше|максимум"
)
RANGE_START = "between|from|entre|de|zwischen|von|от|между|بين|ما بين|من|desde"
BETWEEN = frozenset(["between", "entre", "zwischen", "между", "بين", "ما بين"])
RANGE_AND = "and|et|y|und|и|و"
RANGE_TO = "to|à|a|bis|до|إلى|الى|hasta|au"


# --- compiled left-context patterns (matched against the 40 characters before) ---
def _left(words: str) -> re.Pattern[str]:
    return re.compile(rf"(?:^|[^\w])[وب]?(?:{words})[ \t\u00a0\u202f]*$", re.IGNORECASE)


APPROX_L, MIN_L, MAX_L = _left(APPROX_WORDS), _left(MIN_WORDS), _left(MAX_WORDS)
START_L = re.compile(rf"(?:^|[^\w])(?P<w>{RANGE_START})[ \t\u00a0\u202f]*$", re.IGNORECASE)
YEAR_L = re.compile(r"(?:^|\W)(?:in|en|im)[ \t]+$", re.IGNORECASE)
