"""Language codes: ISO 639-1 and 639-3 (and the old 639-2/B forms) to one ISO 639-3 code.

>>> normalize("es"), normalize("SPA"), normalize("pt-BR"), normalize("ger")
('spa', 'spa', 'por', 'deu')
"""

from __future__ import annotations

# ISO 639-3 -> (ISO 639-1 or "", English name). Every language with an Apertium pair packaged
# by Debian is here, and the languages people most often translate between.
LANGUAGES: dict[str, tuple[str, str]] = {
    "afr": ("af", "Afrikaans"),
    "amh": ("am", "Amharic"),
    "ara": ("ar", "Arabic"),
    "arg": ("an", "Aragonese"),
    "ast": ("", "Asturian"),
    "aze": ("az", "Azerbaijani"),
    "bel": ("be", "Belarusian"),
    "ben": ("bn", "Bengali"),
    "bos": ("bs", "Bosnian"),
    "bre": ("br", "Breton"),
    "bul": ("bg", "Bulgarian"),
    "cat": ("ca", "Catalan"),
    "ces": ("cs", "Czech"),
    "cym": ("cy", "Welsh"),
    "dan": ("da", "Danish"),
    "deu": ("de", "German"),
    "ell": ("el", "Greek"),
    "eng": ("en", "English"),
    "epo": ("eo", "Esperanto"),
    "est": ("et", "Estonian"),
    "eus": ("eu", "Basque"),
    "fao": ("fo", "Faroese"),
    "fas": ("fa", "Persian"),
    "fin": ("fi", "Finnish"),
    "fra": ("fr", "French"),
    "gla": ("gd", "Scottish Gaelic"),
    "gle": ("ga", "Irish"),
    "glg": ("gl", "Galician"),
    "guj": ("gu", "Gujarati"),
    "hbs": ("sh", "Serbo-Croatian"),
    "heb": ("he", "Hebrew"),
    "hin": ("hi", "Hindi"),
    "hrv": ("hr", "Croatian"),
    "hun": ("hu", "Hungarian"),
    "hye": ("hy", "Armenian"),
    "ind": ("id", "Indonesian"),
    "isl": ("is", "Icelandic"),
    "ita": ("it", "Italian"),
    "jpn": ("ja", "Japanese"),
    "kat": ("ka", "Georgian"),
    "kaz": ("kk", "Kazakh"),
    "kir": ("ky", "Kyrgyz"),
    "kor": ("ko", "Korean"),
    "lat": ("la", "Latin"),
    "lav": ("lv", "Latvian"),
    "lit": ("lt", "Lithuanian"),
    "mkd": ("mk", "Macedonian"),
    "mlt": ("mt", "Maltese"),
    "msa": ("ms", "Malay"),
    "nld": ("nl", "Dutch"),
    "nno": ("nn", "Norwegian Nynorsk"),
    "nob": ("nb", "Norwegian Bokmål"),
    "oci": ("oc", "Occitan"),
    "pol": ("pl", "Polish"),
    "por": ("pt", "Portuguese"),
    "ron": ("ro", "Romanian"),
    "rus": ("ru", "Russian"),
    "slk": ("sk", "Slovak"),
    "slv": ("sl", "Slovenian"),
    "spa": ("es", "Spanish"),
    "sqi": ("sq", "Albanian"),
    "srd": ("sc", "Sardinian"),
    "srp": ("sr", "Serbian"),
    "swa": ("sw", "Swahili"),
    "swe": ("sv", "Swedish"),
    "tam": ("ta", "Tamil"),
    "tat": ("tt", "Tatar"),
    "tgl": ("tl", "Tagalog"),
    "tha": ("th", "Thai"),
    "tur": ("tr", "Turkish"),
    "ukr": ("uk", "Ukrainian"),
    "urd": ("ur", "Urdu"),
    "uzb": ("uz", "Uzbek"),
    "vie": ("vi", "Vietnamese"),
    "zho": ("zh", "Chinese"),
}
# ISO 639-2/B codes that differ from 639-3, and macrolanguage codes people use.
ALIASES = {
    "alb": "sqi",
    "arm": "hye",
    "baq": "eus",
    "chi": "zho",
    "cze": "ces",
    "dut": "nld",
    "fre": "fra",
    "geo": "kat",
    "ger": "deu",
    "gre": "ell",
    "ice": "isl",
    "mac": "mkd",
    "may": "msa",
    "no": "nob",
    "nor": "nob",
    "per": "fas",
    "rum": "ron",
    "slo": "slk",
    "wel": "cym",
}
_BY_CODE = {
    **{three: three for three in LANGUAGES},
    **{two: three for three, (two, _) in LANGUAGES.items() if two},
    **ALIASES,
}


def normalize(code: str) -> str:
    """The ISO 639-3 code for ``code`` (a region such as ``-BR`` or ``_US`` is dropped).

    Raises ``ValueError`` naming the code when it is not a known language.
    """
    base = code.strip().lower().replace("_", "-").split("-", 1)[0]
    try:
        return _BY_CODE[base]
    except KeyError:
        raise ValueError(
            f"unknown language code {code!r}: use an ISO 639-1 or 639-3 code "
            "such as 'en', 'es', 'eng' or 'spa'"
        ) from None


def known(code: str) -> str | None:
    """Like ``normalize``, but None for an unknown code."""
    try:
        return normalize(code)
    except ValueError:
        return None


def name(code: str) -> str:
    """The English name of an ISO 639-3 code: ``name("spa") == "Spanish"``."""
    return LANGUAGES[code][1]


# The Debian packages of Apertium's pairs (`apt-cache search apertium`, Debian 12), by the two
# languages they are between (ISO 639-3); the transitional dummy packages are left out. Most
# pairs translate both ways, some only one (apertium-eu-en: Basque to English).
APERTIUM_PACKAGES: dict[frozenset[str], str] = {
    frozenset(languages.split()): package
    for languages, package in [
        ("afr nld", "apertium-afr-nld"),
        ("arg cat", "apertium-arg-cat"),
        ("bel rus", "apertium-bel-rus"),
        ("bre fra", "apertium-br-fr"),
        ("cat ita", "apertium-cat-ita"),
        ("cat srd", "apertium-cat-srd"),
        ("dan nob", "apertium-dan-nor"),
        ("eng glg", "apertium-en-gl"),
        ("eng cat", "apertium-eng-cat"),
        ("eng spa", "apertium-eng-spa"),
        ("epo cat", "apertium-eo-ca"),
        ("epo eng", "apertium-eo-en"),
        ("epo spa", "apertium-eo-es"),
        ("epo fra", "apertium-eo-fr"),
        ("spa glg", "apertium-es-gl"),
        ("spa por", "apertium-es-pt"),
        ("spa ron", "apertium-es-ro"),
        ("eus eng", "apertium-eu-en"),
        ("eus spa", "apertium-eu-es"),
        ("fra spa", "apertium-fr-es"),
        ("fra cat", "apertium-fra-cat"),
        ("hbs eng", "apertium-hbs-eng"),
        ("hbs mkd", "apertium-hbs-mkd"),
        ("hbs slv", "apertium-hbs-slv"),
        ("isl eng", "apertium-isl-eng"),
        ("isl swe", "apertium-isl-swe"),
        ("mkd bul", "apertium-mkd-bul"),
        ("mkd eng", "apertium-mkd-eng"),
        ("nno nob", "apertium-nno-nob"),
        ("oci cat", "apertium-oc-ca"),
        ("oci spa", "apertium-oc-es"),
        ("oci fra", "apertium-oci-fra"),
        ("por cat", "apertium-por-cat"),
        ("por glg", "apertium-pt-gl"),
        ("rus ukr", "apertium-rus-ukr"),
        ("spa arg", "apertium-spa-arg"),
        ("spa ast", "apertium-spa-ast"),
        ("spa cat", "apertium-spa-cat"),
        ("spa ita", "apertium-spa-ita"),
        ("srd ita", "apertium-srd-ita"),
        ("swe dan", "apertium-swe-dan"),
        ("swe nob", "apertium-swe-nor"),
        ("urd hin", "apertium-urd-hin"),
    ]
}


def apertium_package(source: str, target: str) -> str | None:
    """The Debian package with Apertium's pair between two languages, or None:
    ``apertium_package("spa", "eng") == "apertium-eng-spa"``."""
    return APERTIUM_PACKAGES.get(frozenset((source, target)))
