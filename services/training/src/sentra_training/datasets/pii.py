"""PII masking for Q&A dataset items, on Microsoft Presidio with pattern recognisers only.

No NER model is loaded: no spaCy pipeline is downloaded or shipped (the only Spanish spaCy
NER wheel is GPL). Presidio's analyser still wants an NLP engine, so it gets one that only
splits the text into words with a regular expression; that is enough for Presidio's
context words ("teléfono", "DNI", "IBAN" near a match raise its score) and needs no model.

Detected, in Spanish ("es") and English ("en") text alike:

- ``EMAIL_ADDRESS``: Presidio's e-mail pattern; the domain is checked against the public
  suffix list snapshot bundled with tldextract, never a downloaded one.
- ``PHONE_NUMBER``: python-phonenumbers, numbers valid for Spain, the UK or the US
  (national or international format).
- ``IBAN_CODE`` (checksum), ``CREDIT_CARD`` (Luhn).
- ``ES_NIF`` (DNI/NIF) and ``ES_NIE``: Presidio's recognisers, which check the letter.
- ``ES_CIF``: a pattern checked with ``stdnum.es.cif.is_valid``.
- ``LOCATION``: postal addresses a pattern can see: a Spanish street type with a name and a
  number ("C/ Mayor 5, 28013 Madrid", "Calle de Alcalá 20", "Avda. de América 3, 2º B"),
  an English house number with a street ("221B Baker Street", "10 Downing Street"),
  a UK postcode ("SW1A 1AA"), a Spanish postcode followed by a town ("28013 Madrid").
- ``PERSON``: only a name right after a title (Sr., Sra., Srta., D., Dña., Dª, Don, Doña, Dr.,
  Dra., Prof., Mr, Mrs, Ms, Miss, Mx), e.g. "la Sra. Lucía Fernández", "Mr John Smith"; the
  title itself stays ("la Sra. <PERSON>").

NOT detected: names without a title ("Lucía llamó a Pedro"), organisations, towns or places
outside an address, addresses without a house number, whose street type is not first ("Gran
Vía 1") or in free form ("el tercer piso del número cinco"), dates of birth, ages, passport,
social-security, licence-plate and tax numbers other than NIF/NIE/CIF, phone numbers of other
countries written without their international prefix, IP addresses, URLs, user names. A
dataset that may hold those needs a human look or an NER model with a licence we can ship.
Expected false positives: fictional or historical names after a title ("Don Quijote"), a
capitalised word after a Spanish postcode-like number ("28013 Habitantes").

Costs: importing this module takes seconds (Presidio imports spaCy, and torch and transformers
when they are installed, as they are with the ``training`` extra); building a ``PiiMasker`` takes
milliseconds and a ``mask`` of 1,000 characters a few milliseconds. Build one masker per job and
reuse it. ``scan`` and ``mask`` are thread-safe, but calls on one masker run one at a time (a lock:
the word vocabulary the tokens go into must not grow from two threads). Presidio logs one INFO
line per recogniser when a masker is built.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import tldextract
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, Pattern, PatternRecognizer, RecognizerRegistry
from presidio_analyzer import RecognizerResult as AnalyzerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    EsNieRecognizer,
    EsNifRecognizer,
    IbanRecognizer,
    PhoneRecognizer,
)
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import InvalidParamError, OperatorConfig
from presidio_anonymizer.entities import RecognizerResult as AnonymizerResult
from presidio_anonymizer.operators import Operator, OperatorType
from spacy.tokens import Doc
from spacy.vocab import Vocab
from stdnum.es import cif

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"
PHONE_REGIONS = ("ES", "GB", "US")


class PiiMode(StrEnum):
    MASK = "mask"  # every finding becomes <ENTITY>
    PSEUDONYMISE = "pseudonymise"  # the same value always becomes the same <ENTITY_xxxxxxxx>
    KEEP = "keep"  # text unchanged; findings still reported


@dataclass(frozen=True)
class Finding:
    entity: str
    start: int  # offsets in the original text
    end: int
    score: float


@dataclass(frozen=True)
class Masked:
    text: str  # the text after masking (unchanged in KEEP mode)
    findings: tuple[Finding, ...]

    def counts(self) -> dict[str, int]:
        """Entity -> how many were found."""
        return dict(Counter(f.entity for f in self.findings))


def pseudonym(secret: bytes, entity: str, value: str) -> str:
    """`<ENTITY_` + 8 hex of HMAC-SHA256(secret, entity:normalised value) + `>`.

    The value is case-folded with whitespace and hyphens removed, so "+34 612 345 678" and
    "+34612345678" get one pseudonym ("612 345 678", without the prefix, another).
    """
    normalised = re.sub(r"[\s\-]+", "", value.casefold())
    digest = hmac.new(secret, f"{entity}:{normalised}".encode(), hashlib.sha256).hexdigest()
    return f"<{entity}_{digest[:8]}>"


class PiiMasker:
    """Finds and masks PII in one language at a time ("es" or "en", also "es-ES", "en_GB";
    anything else is read as Spanish, whose recognisers include every language-independent one).

    Scores: checked values (e-mail, IBAN, card, NIF, NIE, CIF) score 1.0, addresses and titled
    names 0.4-0.6, phone numbers 0.4; a context word nearby adds 0.35. With a `min_score` above
    0.4, phone numbers with no context word are no longer masked.
    """

    def __init__(self, mode: PiiMode = PiiMode.MASK, *, secret: bytes = b"", min_score: float = 0.4) -> None:
        self.mode = PiiMode(mode)
        if not isinstance(secret, bytes):
            raise TypeError(f"secret must be bytes, not {type(secret).__name__}")
        if self.mode is PiiMode.PSEUDONYMISE and not secret:
            raise ValueError(
                "pseudonymise mode needs a non-empty secret (bytes): the pseudonyms are HMACs of the values, "
                "and without a secret anyone could recompute them from a guessed name or number"
            )
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be between 0 and 1, not {min_score}")
        self._min_score = min_score
        self._lock = threading.Lock()
        nlp_engine = _WordNlpEngine(LANGUAGES)
        registry = RecognizerRegistry(recognizers=_recognizers(), supported_languages=list(LANGUAGES))
        self._analyzer = AnalyzerEngine(
            registry=registry,
            nlp_engine=nlp_engine,
            supported_languages=list(LANGUAGES),
            # Whole words only: "tel" must not be found in "hotel".
            context_aware_enhancer=LemmaContextAwareEnhancer(context_matching_mode="whole_word"),
        )
        self._anonymizer = AnonymizerEngine()
        self._anonymizer.add_anonymizer(_HmacPseudonym)
        if self.mode is PiiMode.PSEUDONYMISE:
            self._operators = {"DEFAULT": OperatorConfig(_HmacPseudonym.NAME, {_HmacPseudonym.SECRET: secret})}
        else:  # Presidio's replace with no new value writes <ENTITY>.
            self._operators = {"DEFAULT": OperatorConfig("replace")}

    def scan(self, text: str, language: str = DEFAULT_LANGUAGE) -> list[Finding]:
        """Findings in text order, none overlapping: where two overlap, the higher score wins,
        then the longer span."""
        with self._lock:
            results = self._analyze(text, language)
        return [Finding(r.entity_type, r.start, r.end, float(r.score)) for r in results]

    def mask(self, text: str, language: str = DEFAULT_LANGUAGE) -> Masked:
        with self._lock:
            results = self._analyze(text, language)
            findings = tuple(Finding(r.entity_type, r.start, r.end, float(r.score)) for r in results)
            if self.mode is PiiMode.KEEP or not results:
                return Masked(text, findings)
            anonymized = self._anonymizer.anonymize(
                text,
                [AnonymizerResult(r.entity_type, r.start, r.end, r.score) for r in results],
                operators=self._operators,
                # Two e-mails side by side stay two values with two pseudonyms.
                merge_entities_with_spaces=False,
            )
        return Masked(anonymized.text, findings)

    def _analyze(self, text: str, language: str) -> list[AnalyzerResult]:
        if not text:
            return []
        results = self._analyzer.analyze(text, _language(language), score_threshold=self._min_score)
        return _non_overlapping(results)


def _language(language: str) -> str:
    primary = (language or "").replace("_", "-").split("-", 1)[0].casefold()
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


def _non_overlapping(results: list[AnalyzerResult]) -> list[AnalyzerResult]:
    chosen: list[AnalyzerResult] = []
    for r in sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start)):
        if all(r.end <= c.start or r.start >= c.end for c in chosen):
            chosen.append(r)
    return sorted(chosen, key=lambda r: r.start)


class _HmacPseudonym(Operator):
    """Presidio anonymizer operator: the value becomes `pseudonym(secret, entity, value)`."""

    NAME = "sentra_hmac_pseudonym"
    SECRET = "secret"

    def operate(self, text: str = "", params: dict | None = None) -> str:
        params = params or {}
        return pseudonym(params[self.SECRET], params["entity_type"], text)

    def validate(self, params: dict | None = None) -> None:
        secret = (params or {}).get(self.SECRET)
        if not isinstance(secret, bytes) or not secret:
            raise InvalidParamError("the HMAC pseudonym operator needs a non-empty bytes secret")

    def operator_name(self) -> str:
        return self.NAME

    def operator_type(self) -> OperatorType:
        return OperatorType.Anonymize


# Words for Presidio's context: a letter or digit run, or one other non-space character.
_WORD = re.compile(r"\w+|[^\w\s]")


class _WordNlpEngine(NlpEngine):
    """No model: tokens are regex words and their lemmas the lower-cased words, which is what
    Presidio's context enhancer compares with each recogniser's context words. No entities."""

    def __init__(self, languages: Sequence[str]) -> None:
        self._languages = list(languages)
        self._vocab = Vocab()

    def load(self) -> None:
        pass

    def is_loaded(self) -> bool:
        return True

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        matches = list(_WORD.finditer(text))
        words = [m.group() for m in matches]
        return NlpArtifacts(
            entities=[],
            tokens=Doc(self._vocab, words=words),
            tokens_indices=[m.start() for m in matches],
            lemmas=[w.casefold() for w in words],
            nlp_engine=self,
            language=language,
        )

    def process_batch(
        self, texts: Iterable[str], language: str, batch_size: int = 1, n_process: int = 1, **kwargs
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        return False

    def is_punct(self, word: str, language: str) -> bool:
        return not any(c.isalnum() for c in word)

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return list(self._languages)


class _OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recogniser, with tldextract held to its bundled suffix list: the
    stock `tldextract.extract` downloads the public suffix list on first use."""

    def __init__(self, extractor: tldextract.TLDExtract, **kwargs) -> None:
        super().__init__(**kwargs)
        self._extract = extractor

    def validate_result(self, pattern_text: str) -> bool:
        return self._extract(pattern_text).fqdn != ""


class _EsCifRecognizer(PatternRecognizer):
    """Spanish company tax code (CIF): organisation letter, 7 digits, control digit or letter."""

    def __init__(self, supported_language: str) -> None:
        super().__init__(
            supported_entity="ES_CIF",
            patterns=[Pattern("CIF", r"\b[ABCDEFGHJNPQRSUVW][-\s]?\d{7}[-\s]?[0-9A-J]\b", 0.3)],
            context=["cif", "nif", "empresa", "sociedad", "company", "tax"],
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool:
        return cif.is_valid(pattern_text)


# Address and name patterns are case-sensitive (capitals mark the names); keywords inside
# them opt into case-insensitivity with (?i:...).
_CASE_SENSITIVE = re.DOTALL | re.MULTILINE
_UP = "A-ZÁÉÍÓÚÜÑÇÀÈÒÏ"
_LOW = "a-záéíóúüñçàèòï"
_ES_WORD = rf"[{_UP}][{_LOW}{_UP}'’-]*"  # Alcalá, O'Donnell, GRAN
_ES_ABBR = rf"[{_UP}][{_LOW}]{{0,3}}\."  # Dr., Sta., Gral. (short, so "Madrid." keeps its full stop)
_ES_JOIN = r"(?:(?:de|del|la|las|los|el|y|i|d'|l')\s+)"
_ES_NAME = rf"(?:{_ES_ABBR}|{_ES_WORD})(?:\s+{_ES_JOIN}?(?:{_ES_ABBR}|{_ES_WORD})){{0,4}}"
_ES_TOWN = rf"{_ES_WORD}(?:\s+{_ES_JOIN}?{_ES_WORD}){{0,3}}"
_ES_STREET_TYPE = (
    r"(?i:(?:calle|avenida|avda|av|plaza|pza|plza|paseo|ronda|camino|carretera|ctra|travesía|travesia|trav"
    r"|glorieta|vía|callejón|bulevar|rambla|carrer|rúa|urbanización|urb)\b\.?|c/|p[º°]|p\.º)"
)
_ES_POSTCODE = r"(?:0[1-9]|[1-4]\d|5[0-2])\d{3}"
_ES_STREET = (
    rf"\b{_ES_STREET_TYPE}\s*(?:(?:de|del|de\s+la|de\s+las|de\s+los)\s+)?{_ES_NAME}"
    r",?\s*(?:(?i:n\.?\s?º|nº|núm\.?|número)\s*)?"
    r"(?!(?:1[5-9]|20)\d\d\b)\d{1,4}[A-Za-z]?\b"  # house number, not a year ("Plaza de Mayo 1810")
    r"(?:,?\s*\d{1,2}\s?[ºª°](?:\s?[A-Z]\b)?)?"  # floor and door: 2º B
    rf"(?:,?\s*{_ES_POSTCODE}\b(?:\s+{_ES_TOWN})?)?"  # postcode and town
)
_UK_POSTCODE = r"(?:[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}|GIR\s?0AA)"
_EN_WORD = r"[A-Z][A-Za-z'’-]*"
_EN_STREET_TYPE = (
    r"(?:Street|Road|Avenue|Lane|Drive|Boulevard|Place|Court|Square|Terrace|Way|Close|Crescent|Gardens|Grove"
    r"|Row|Mews|Parade|Highway|(?:St|Rd|Ave|Ln|Blvd|Hwy)\b\.?)"
)
_EN_STREET = (
    r"\b(?!(?:19|20)\d\d\b)\d{1,5}[A-Za-z]?,?\s+"  # house number, not a year ("2019 Supreme Court")
    rf"(?:{_EN_WORD}\s+){{1,4}}{_EN_STREET_TYPE}(?!\w)"
    rf"(?:,?\s+(?:{_EN_WORD},?\s+){{0,2}}{_UK_POSTCODE}\b)?"  # town and postcode
)


def _address_recognizer(language: str) -> PatternRecognizer:
    return PatternRecognizer(
        supported_entity="LOCATION",
        name="PostalAddressRecognizer",
        supported_language=language,
        patterns=[
            Pattern("ES street", _ES_STREET, 0.6),
            Pattern("EN street", _EN_STREET, 0.6),
            Pattern("UK postcode", rf"\b{_UK_POSTCODE}\b", 0.5),
            Pattern("ES postcode and town", rf"\b{_ES_POSTCODE}\s+{_ES_TOWN}", 0.4),
        ],
        context=["dirección", "domicilio", "vive", "reside", "cp", "postal", "address", "lives", "postcode", "zip"],
        global_regex_flags=_CASE_SENSITIVE,
    )


_ES_TITLES = ("Sr", "Sra", "Srta", "D", "Dña", "Dª", "D.ª", "Don", "Doña", "Dr", "Dra", "Prof", "Profa")
_EN_TITLES = ("Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof")
_NAME_WORD = rf"[{_UP}](?:[{_LOW}'’-]+|\.)"  # García, O'Neill, or an initial: J.
_NAME_JOIN = r"(?:(?:de|del|de\s+la|de\s+los|y|van|von|da|di|le)\s+)"


def _after_title() -> str:
    """Fixed-width look-behinds (Python's `re` wants one width per look-behind), one per way of
    writing a title, then one space. Spanish titles also in lower case ("don Pedro", "la
    sra. López"); English ones only capitalised ("10 ms Latency" is no title)."""
    forms: set[str] = set()
    for title in _ES_TITLES + _EN_TITLES:
        cases = {title, title[0].lower() + title[1:]} if title in _ES_TITLES else {title}
        for cased in cases:
            forms.add(cased)
            if not cased.endswith("ª") and cased.casefold() not in {"don", "doña", "miss"}:
                forms.add(cased + ".")
    forms -= {"D", "d"}  # a bare capital letter is no title; "D." is
    return "(?:" + "|".join(rf"(?<=\b{re.escape(f)}\s)" for f in sorted(forms)) + ")"


def _person_recognizer(language: str) -> PatternRecognizer:
    return PatternRecognizer(
        supported_entity="PERSON",
        name="TitledNameRecognizer",
        supported_language=language,
        patterns=[
            Pattern("name after a title", rf"{_after_title()}{_NAME_WORD}(?:\s+{_NAME_JOIN}?{_NAME_WORD}){{0,3}}", 0.6)
        ],
        global_regex_flags=_CASE_SENSITIVE,
    )


_CONTEXT = {
    "es": {
        # Words as the tokeniser cuts them: "e-mail" is "e", "-", "mail".
        "email": ["correo", "email", "mail"],
        "phone": ["teléfono", "telefono", "tel", "tlf", "móvil", "movil", "llamar", "llama", "fax", "whatsapp"],
        "iban": ["iban", "cuenta", "banco", "bancaria", "transferencia", "domiciliación"],
        "card": ["tarjeta", "crédito", "credito", "débito", "debito", "visa", "mastercard", "amex"],
    },
    "en": {
        "email": ["email", "mail"],
        "phone": ["phone", "telephone", "tel", "cell", "mobile", "call", "number", "fax", "whatsapp"],
        "iban": ["iban", "bank", "account", "transfer", "transaction"],
        "card": ["credit", "card", "debit", "visa", "mastercard", "amex"],
    },
}


def _recognizers() -> list[EntityRecognizer]:
    # Cache off (nothing written under ~/.cache), no URLs (nothing fetched): the bundled snapshot.
    extractor = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)
    recognizers: list[EntityRecognizer] = []
    for lang in LANGUAGES:
        context = _CONTEXT[lang]
        recognizers += [
            _OfflineEmailRecognizer(extractor, supported_language=lang, context=context["email"]),
            PhoneRecognizer(supported_language=lang, supported_regions=PHONE_REGIONS, context=context["phone"]),
            IbanRecognizer(supported_language=lang, context=context["iban"]),
            CreditCardRecognizer(supported_language=lang, context=context["card"]),
            # A Spanish ID in an English text is still a Spanish ID: both languages.
            EsNifRecognizer(supported_language=lang),
            EsNieRecognizer(supported_language=lang),
            _EsCifRecognizer(lang),
            _address_recognizer(lang),
            _person_recognizer(lang),
        ]
    return recognizers
