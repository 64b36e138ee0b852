"""The presidio tier, built to work offline with a curated recognizer set.

Why curated: presidio's default registry tags model names, timestamps and
request ids (DATE_TIME, URL, UUID, US_DRIVER_LICENSE...), which would destroy
the most useful fields of an LLM log. Why offline by construction: the default
engine downloads a spaCy model, and tldextract fetches the public suffix list
with no timeout. Everything here is imported lazily, off the caller's thread.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from llmlog._redact_detect import merge_spans
from llmlog._redact_pii_text import CJK, pii_text
from llmlog._redact_secrets import Span

SCORE_THRESHOLD: Final = 0.4
# National formats are only found for these regions (international `+CC` numbers
# are found for every region). Each region costs one phonenumbers pass.
PHONE_REGIONS: Final = ("US", "GB", "DE", "FR", "IN", "BR")
NER_ENTITIES: Final = ("PERSON", "LOCATION", "NRP")
_QUIET_LOGGERS: Final = ("presidio-analyzer", "presidio_analyzer", "tldextract")

# A phone match glued to a word, a dash or a dot is part of something else:
# `claude-sonnet-4-5-20250929`, a UUID, a version, a file name. Not to Chinese, Japanese or
# Korean words (no spaces between words there). An international number (`+CC`) only to a
# digit or a dash: `Tel.+44 20 7946 0958`, `Telefon+49 30 901820`, `/customers/+1415.../`.
_GLUED_BEFORE: Final = re.compile(rf"(?:[^\W{CJK}]|[\-./])$")
_GLUED_BEFORE_INTERNATIONAL: Final = re.compile(r"[\d\-]$")
_GLUED_AFTER: Final = re.compile(rf"^(?:[^\W{CJK}]|-)|^\.\d")
# A WhatsApp link's path is a phone number (`wa.me/447911123456`), not an id in a URL.
_PHONE_LINK: Final = re.compile(r"(?i)(?<![\w.])wa\.me/$")
# Dates (2024-08-06, 06.08.2024, 08/06/2024, 2024.08.06) and decimals (0.84441234, a score):
# phonenumbers takes some for numbers, a list's `[` included (`[0.42826962`). A phone number
# written with dots has two or more (`415.555.0132`, `+33 1.42.68.53.00`).
_DAY: Final = r"(?:0?[1-9]|[12]\d|3[01])"
_YEAR: Final = r"(?:19|20)\d\d"
_NUMBER_LOOK_ALIKE: Final = re.compile(
    rf"[(\[]?(?:{_YEAR}([-./]){_DAY}\1{_DAY}|{_DAY}([-./]){_DAY}\2{_YEAR}|[+\-]?\d+\.\d+)"
)
# Four numbers of a longer dotted run: an OID (`1.3.6.1.4.1.311`), a phone number
# (`+33 1.42.68.53.00`), a version.
_DOTTED_BEFORE: Final = re.compile(r"\d\.$")
_DOTTED_AFTER: Final = re.compile(r"\.\d")
_NO_ONES_ADDRESS: Final = re.compile(r"0\.0\.0\.0\Z|127\.")
"""IPv4 that names no host of anyone's: every interface (`0.0.0.0:8080`), this host
(`127.0.0.1`)."""
# `v1.2.3.4`, `version 1.2.3.4`, `pkg==1.2.3.4`, `pkg>=1.2.3.4`, `^1.2.3.4`: a version, not an
# address. Only a package manager's operator right before it: `ip=`, `<td>`, `-> ` and
# `--host=` come before addresses; so do `ip.addr==` (Wireshark) and `host!=`. A name
# ending in `version` assigned one is a version too (`AssemblyVersion=1.0.0.0`,
# `/p:Version=2.1.0.0`, `version=120.0.0.0`), as is `ver=1.2.3.4` (not `server=`).
_VERSION_BEFORE: Final = re.compile(
    r"(?i)(?:\bv|\bversion:?\s{0,8}|version\s{0,8}[=:]\s{0,8}|\bver\.?\s{0,8}"
    r"|\bver\s{0,8}[=:]\s{0,8}"
    r"|(?<!ip)(?<!addr)(?<!host)(?<!src)(?<!dst)(?:[=<>~!]=|[~^]))$"
)
# How far before an address its version context is looked for: `AssemblyVersion = `.
_VERSION_REACH: Final = 32


# An SSN written right after the word: presidio's recognizer scores undashed
# numbers too low without NLP context, and rejects published sample numbers.
_LABELLED_SSN: Final = re.compile(
    r"(?i)\b(?:ssn|social security(?: number| no\.?)?)\W{0,3}(?P<v>\d{3}([- ]?)\d{2}\2\d{4})\b"
)
# A short code said to be one (`PIN: 4821`, `card_pin=4821`, `{"cvc2": "077"}`, `your OTP
# code is 482913`): too short for any other rule. A `SECRET`, like a value under such a key.
_SHORT_CODE: Final = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:pin|cvv2?|cvc2?|otp|passcode)(?:[ _\-]?(?:code|number|no\.?))?"
    r"(?:[\"']?\s*[:=\uff1a]\s*[\"']?|\s+is:?\s+)(?P<v>\d(?:[ \-]?\d){2,7})(?![\w\-])"
)
# An address with a file's extensions glued on (`jane@example.com.pdf`, `.tar.gz`: an
# attachment's name) or more of its name after a `_` (no domain holds one:
# `invoice_jane@example.com_2024.pdf`): the whole fails the domain check, the address
# without them passes it.
_EMAIL_IN_FILE_NAME: Final = re.compile(r"(?<![\w.+%\-])[\w.+%\-]+@[\w\-]+(?:\.[\w\-]+)+(?!@)")
_FILE_EXTENSION: Final = re.compile(r"\.[A-Za-z0-9]{1,5}$")
_SHORT_CODE_HINTS: Final = ("pin", "cvv", "cvc", "otp", "passcode")  # a scan each: µs, not 30


def ner_model_problem(model: str) -> str | None:
    """Why the ``ner`` level cannot run with ``model``, or None if it can. Never downloads."""
    try:
        import spacy.util
    except ImportError:
        return "the `ner` redaction level needs spaCy: pip install 'presidio-analyzer'"
    path = Path(model).expanduser()
    if path.is_dir() and (path / "config.cfg").is_file():
        return None
    if spacy.util.is_package(model):
        return None
    return (
        f"the `ner` redaction level needs the spaCy model {model!r}, which is not installed. "
        f"Install it yourself (e.g. `pip install <wheel of {model}>` from your own index or "
        "file; llmlog never downloads models), point LLMLOG_NER_MODEL at an installed "
        "package or a model directory, or use LLMLOG_REDACT=pii"
    )


def quiet_loggers() -> None:
    """Keep presidio's and tldextract's logging out of the host application's logs.

    Only loggers the application has not configured itself are touched.
    """
    for name in _QUIET_LOGGERS:
        log = logging.getLogger(name)
        # presidio adds a NullHandler to its own logger; any other handler or a level is the app's.
        configured = any(not isinstance(h, logging.NullHandler) for h in log.handlers)
        if configured or log.level != logging.NOTSET:
            continue
        log.addHandler(logging.NullHandler())
        log.propagate = False


@dataclass(frozen=True)
class OfflineEngine:
    """The analyzer for every entity but phone numbers, and the phone recognizer apart.

    Phone matching (``phonenumbers``, once per region) costs more than everything
    else together and grows with every digit run in the text, so it runs last, on
    the text with what the other recognizers found blanked out, and only on the
    digit runs that can be a phone number (:func:`phone_candidates`).
    """

    analyzer: Any
    phone: Any
    shortest_phone: int
    """Digits in the shortest phone number phonenumbers can call valid (4 today)."""


# Digits no more than four non-digits apart: phonenumbers' matcher only joins digit
# blocks separated by at most four punctuation characters, so every number it finds
# lies inside one such run. Any four non-digits are allowed here (a superset).
_DIGIT_RUN: Final = re.compile(r"\d(?:\D{0,4}\d)*")
# What may stand between a number and its extension: phonenumbers' extension labels
# ("ext", "extension", "anexo", "int", "x", "#", "~", ";ext=", and non-ASCII ones such
# as full-width letters or "доб") and separators, case-insensitively. A superset: any
# non-ASCII character is allowed.
_EXTENSION_GAP: Final = re.compile(r"(?:[\s,;:=.\-#~xetnsioa]|[^\x00-\x7f])*", re.IGNORECASE)


def shortest_phone_number() -> int:
    """Digits of the shortest valid national number of any region, from phonenumbers' metadata."""
    import phonenumbers

    regions = [
        *map(phonenumbers.PhoneMetadata.metadata_for_region, phonenumbers.SUPPORTED_REGIONS),
        *map(
            phonenumbers.PhoneMetadata.metadata_for_nongeo_region,
            phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS,
        ),
    ]
    lengths = [
        min(getattr(metadata.general_desc, "possible_length", None) or (1,))
        for metadata in regions
        if metadata is not None
    ]
    return max(1, min(lengths, default=1))


def phone_candidates(text: str, shortest: int) -> str | None:
    """``text`` with the digit runs too short to be a phone number blanked, or None if none is left.

    Each region's phonenumbers pass tries every digit run ("4k", "team of 12")
    as a number; a run with fewer than ``shortest`` digits never is one, so it
    is replaced by spaces (offsets unchanged) unless only an extension label
    stands between it and a longer run before it. Text without a long enough
    run skips the phone passes entirely. Same numbers found, in less time.
    """
    pieces: list[str] = []
    done = 0  # text[:done] is in pieces
    long_end = -1  # where the last long enough run ended
    for run in _DIGIT_RUN.finditer(text):
        start, end = run.span()
        if sum(map(str.isdigit, run.group())) >= shortest:
            long_end = end
        elif long_end < 0 or not _EXTENSION_GAP.fullmatch(text, long_end, start):
            pieces += (text[done:start], " " * (end - start))
            done = end
    if long_end < 0:
        return None
    return "".join(pieces) + text[done:] if pieces else text


@functools.lru_cache(maxsize=4)
def offline_engine(ner_model: str | None = None) -> OfflineEngine:
    """The presidio engine that never touches the network (built once per model)."""
    quiet_loggers()
    from presidio_analyzer import (
        AnalyzerEngine,
        Pattern,
        PatternRecognizer,
        RecognizerRegistry,
        RecognizerResult,
    )
    from presidio_analyzer.nlp_engine import NoOpNlpEngine, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        CryptoRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
        UsItinRecognizer,
        UsSsnRecognizer,
    )
    from tldextract import TLDExtract

    mastercard_2_series = Pattern(
        "Mastercard 2-series",
        r"\b2(?:2(?:2[1-9]|[3-9]\d)|[3-6]\d\d|7(?:[01]\d|20))[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b",
        0.3,  # below SCORE_THRESHOLD: found only once its Luhn check passes
    )
    ethereum_address = Pattern("Ethereum address", r"\b0x[0-9a-fA-F]{40}\b", 0.5)

    # Our own extractor with no suffix-list URLs: the bundled snapshot, no fetch, no cache
    # writes, and no change to tldextract's module default that the app may rely on.
    offline_tld = TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return bool(offline_tld(pattern_text.rpartition("@")[2]).fqdn)

        def analyze(self, text: str, entities: Any, *args: Any, **kwargs: Any) -> Any:
            results = self._near_each_at(text, entities, *args, **kwargs)
            if "@" in text:
                # what presidio found, in order: each match is checked against it in one walk
                found = merge_spans((r.start, r.end, "") for r in results)
                i = 0
                for match in _EMAIL_IN_FILE_NAME.finditer(text):
                    start, end = match.span()
                    while i < len(found) and found[i][1] <= start:
                        i += 1
                    if i < len(found) and found[i][0] < end:
                        continue
                    address = address_in_file_name(match.group(), self.validate_result)
                    if address:
                        end = start + len(address)
                        results.append(RecognizerResult("EMAIL_ADDRESS", start, end, 1.0))
            return results

        def _near_each_at(self, text: str, entities: Any, *args: Any, **kwargs: Any) -> Any:
            """presidio's pattern, run around each ``@`` only (a local part holds at most 64
            characters, a domain 255): over a whole text it reads from every word start to
            the next ``@``, quadratic (100 KB of a URL path, then an address: 60 s, after
            which presidio gives up silently and the address stays)."""
            results: list[Any] = []
            seen: set[tuple[int, int]] = set()
            at = text.find("@")
            while at != -1:
                low = max(0, at - 65)
                for result in super().analyze(text[low : at + 257], entities, *args, **kwargs):
                    result.start, result.end = result.start + low, result.end + low
                    if (result.start, result.end) not in seen:
                        seen.add((result.start, result.end))
                        results.append(result)
                at = text.find("@", at + 1)
            return results

    recognizers: list[Any] = [
        OfflineEmailRecognizer(),
        # presidio's card pattern misses Mastercard's 2221-2720 range; Luhn-checked alike
        CreditCardRecognizer(patterns=[*CreditCardRecognizer.PATTERNS, mastercard_2_series]),
        # Built in Python, IbanRecognizer is case-sensitive unless told otherwise.
        IbanRecognizer(regex_flags=re.IGNORECASE | re.MULTILINE | re.DOTALL),
        UsSsnRecognizer(),
        UsItinRecognizer(),
        IpRecognizer(),
        CryptoRecognizer(),  # Bitcoin
        PatternRecognizer(
            supported_entity="CRYPTO", patterns=[ethereum_address], name="EthereumRecognizer"
        ),
    ]
    nlp_engine: Any
    if ner_model is None:
        nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    else:
        import spacy

        nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": ner_model}])
        # Set by hand so that presidio's load() (which may download) never runs.
        nlp_engine.nlp = {"en": spacy.load(ner_model)}
        recognizers.append(SpacyRecognizer(supported_entities=list(NER_ENTITIES)))
    registry = RecognizerRegistry(supported_languages=["en"], recognizers=recognizers)
    engine = OfflineEngine(
        analyzer=AnalyzerEngine(
            registry=registry, supported_languages=["en"], nlp_engine=nlp_engine
        ),
        phone=PhoneRecognizer(supported_regions=PHONE_REGIONS),
        shortest_phone=shortest_phone_number(),
    )
    # Warm-up: the first call loads phonenumbers metadata and compiles regexes.
    find_pii("warm up: a@example.com +1 212 555 0147", (), ner_model, engine)
    return engine


def find_pii(
    text: str,
    known: Iterable[Span] = (),
    ner_model: str | None = None,
    engine: OfflineEngine | None = None,
) -> list[Span]:
    """PII spans in ``text`` found by the offline engine, look-alikes removed.

    ``known``: spans already found elsewhere (secrets); no phone number is looked for there.
    """
    engine = engine or offline_engine(ner_model)
    text = pii_text(text)
    results = engine.analyzer.analyze(text, language="en", score_threshold=SCORE_THRESHOLD)
    spans = [_email_after_path(text, r.start, r.end, r.entity_type) for r in results]
    spans += [(m.start("v"), m.end("v"), "US_SSN") for m in _LABELLED_SSN.finditer(text)]
    lowered = text.lower()
    if any(hint in lowered for hint in _SHORT_CODE_HINTS):
        spans += [(m.start("v"), m.end("v"), "SECRET") for m in _SHORT_CODE.finditer(text)]
    # Look-alikes out first: a phone number is not looked for where one was (an OID's or a
    # French number's `1.42.68.53`, no address, must not hide `+33 1.42.68.53.00`).
    spans = [s for s in spans if not is_look_alike(text, *s)]
    candidates = phone_candidates(_blank(text, [*spans, *known]), engine.shortest_phone)
    if candidates is not None:
        phones = engine.phone.analyze(candidates, ["PHONE_NUMBER"], None)
        for r in phones:
            # phonenumbers takes a `[` before a number as its start (`[+1 415 555 0132]`)
            start = r.start + (text[r.start] == "[" and "]" not in text[r.start : r.end])
            if r.score >= SCORE_THRESHOLD and not is_look_alike(text, start, r.end, r.entity_type):
                spans.append((start, r.end, r.entity_type))
    return spans


def address_in_file_name(name: str, valid: Callable[[str], bool]) -> str | None:
    """The address a file's name starts with (``jane@example.com_2024.pdf``,
    ``jane@example.com.tar.gz``), or None."""
    at = name.index("@")
    if "_" in name[at:]:
        name = name[: name.index("_", at)]
    for _ in range(3):  # as is, without `.pdf`, without `.tar.gz`
        if name.count(".", at) and valid(name):
            return name
        extension = _FILE_EXTENSION.search(name)
        if extension is None:
            return None
        name = name[: extension.start()]
    return None


def _email_after_path(text: str, start: int, end: int, entity: str) -> Span:
    """presidio takes ``/`` as part of an address (``GET /users/jane@example.com``): the
    address starts after the last one, the path is kept."""
    if entity == "EMAIL_ADDRESS":
        slash = text.rfind("/", start, text.find("@", start, end))
        if slash >= 0:
            start = slash + 1
    return (start, end, entity)


def _blank(text: str, spans: Iterable[Span]) -> str:
    """``text`` with the spans replaced by spaces (so offsets still match)."""
    chars = list(text)
    for start, end, _ in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def recognizer_spans(recognizers: list[Any], text: str) -> list[Span]:
    """Spans from the app's own presidio recognizers, run directly (no NLP artifacts)."""
    spans: list[Span] = []
    for recognizer in recognizers:
        for r in recognizer.analyze(text, recognizer.supported_entities, None) or ():
            if r.score >= SCORE_THRESHOLD:
                spans.append((r.start, r.end, r.entity_type))
    return spans


def _short_and_bare(value: str) -> bool:
    """Under 7 digits with no ``+``, leading ``0`` or ``(``: a year, a ticket, a count (`signed
    in 1648`, `ticket 16930`), though phonenumbers takes some for German numbers. A real short
    number is written with its trunk ``0`` or country code (`030 1234`, `+49 30 1234`)."""
    return sum(ch.isdigit() for ch in value) < 7 and not value.startswith(("+", "0", "("))


def is_look_alike(text: str, start: int, end: int, entity: str) -> bool:
    """True for matches that are known to be something else in LLM traffic."""
    value = text[start:end]
    if entity == "PHONE_NUMBER":
        glued = _GLUED_BEFORE_INTERNATIONAL if value.startswith("+") else _GLUED_BEFORE
        return bool(
            (
                glued.search(text[max(0, start - 1) : start])
                and not _PHONE_LINK.search(text[max(0, start - 7) : start])
            )
            or _GLUED_AFTER.search(text[end : end + 2])
            or _NUMBER_LOOK_ALIKE.fullmatch(value)
            or _short_and_bare(value)
        )
    if entity == "EMAIL_ADDRESS":  # git's SSH user: `git@github.com:acme/api.git`
        return value.startswith("git@") and (
            text.startswith(":", end) or text.endswith("://", 0, start)
        )
    if entity == "IP_ADDRESS":
        if ":" in value:  # IPv6: `c::d` in code has no digit; `::1` is no one's address
            groups = [g for g in value.split(":") if g]
            return not any(ch.isdigit() for ch in value) or len(groups) < 2
        return bool(
            _NO_ONES_ADDRESS.match(value)
            or _VERSION_BEFORE.search(text[max(0, start - _VERSION_REACH) : start])
            or _DOTTED_BEFORE.search(text[max(0, start - 2) : start])
            or _DOTTED_AFTER.match(text, end)
        )
    return False
