"""PII masking of dataset items: every kind the module promises is masked, invalid IDs are not,
pseudonyms are stable, and nothing reaches the network."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import socket

import pytest
from sentra_training.datasets.pii import Finding, PiiMasker, PiiMode
from stdnum import iban, luhn
from stdnum.es import cif, dni, nie

SECRET = b"test-secret"

EMAIL = "ana.garcia@example.com"
PHONE_ES_MOBILE = "+34 612 345 678"
PHONE_ES_LANDLINE = "912 345 678"
PHONE_UK = "+44 20 7946 0958"
PHONE_US = "(212) 555-0199"
IBAN = "ES91 2100 0418 4502 0005 1332"
DNI = "12345678Z"
NIE = "X1234567L"
CIF = "B58378431"
CARD = "4111 1111 1111 1111"
ES_ADDRESS = "C/ Mayor 5, 28013 Madrid"
ES_STREET = "Calle de Alcalá 20"
EN_ADDRESS = "221B Baker Street"
UK_POSTCODE = "SW1A 1AA"

SPANISH = (
    f"Hola, soy la Sra. Lucía Fernández. Mi correo es {EMAIL} y mi móvil {PHONE_ES_MOBILE}; en la oficina, "
    f"{PHONE_ES_LANDLINE}. Para el pago: IBAN {IBAN}, tarjeta {CARD}. Mi DNI es {DNI}, el de mi marido "
    f"(NIE) {NIE} y el CIF de la empresa {CIF}. Vivo en {ES_ADDRESS} y trabajo en la {ES_STREET}."
)
ENGLISH = (
    f"Dear support, this is Mr John Smith. Write to {EMAIL} or call {PHONE_UK} in London or {PHONE_US} in New York. "
    f"My card is {CARD} and my Spanish ID {DNI}. I live at {EN_ADDRESS}, London NW1 6XE; "
    f"the office is at {UK_POSTCODE}."
)

# The second, independent check: what must not survive masking, by patterns of our own.
LEFTOVERS = {
    "e-mail": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "DNI": re.compile(r"\b\d{8}\s?-?\s?[A-Za-z]\b"),
    "IBAN": re.compile(r"ES\d{2}"),
    "9+ digits": re.compile(r"\d(?:[\s().+-]*\d){8,}"),
}


@pytest.fixture(scope="module")
def masker() -> PiiMasker:
    return PiiMasker()


def expected_pseudonym(entity: str, value: str) -> str:
    normalised = re.sub(r"[\s-]", "", value.casefold())
    return f"<{entity}_{hmac.new(SECRET, f'{entity}:{normalised}'.encode(), hashlib.sha256).hexdigest()[:8]}>"


def test_the_sample_values_are_valid_so_a_miss_is_the_maskers_fault():
    assert dni.is_valid(DNI) and not dni.is_valid("12345678A")
    assert nie.is_valid(NIE)
    assert cif.is_valid(CIF)
    assert iban.is_valid(IBAN)
    assert luhn.is_valid(CARD.replace(" ", ""))


def test_every_kind_is_masked_in_a_spanish_text(masker):
    masked = masker.mask(SPANISH, "es")
    for value in (EMAIL, PHONE_ES_MOBILE, PHONE_ES_LANDLINE, IBAN, CARD, DNI, NIE, CIF, ES_ADDRESS, ES_STREET,
                  "Lucía", "Fernández"):  # fmt: skip
        assert value not in masked.text
    assert masked.counts() == {
        "PERSON": 1,
        "EMAIL_ADDRESS": 1,
        "PHONE_NUMBER": 2,
        "IBAN_CODE": 1,
        "CREDIT_CARD": 1,
        "ES_NIF": 1,
        "ES_NIE": 1,
        "ES_CIF": 1,
        "LOCATION": 2,
    }
    assert masked.text == (
        "Hola, soy la Sra. <PERSON>. Mi correo es <EMAIL_ADDRESS> y mi móvil <PHONE_NUMBER>; en la oficina, "
        "<PHONE_NUMBER>. Para el pago: IBAN <IBAN_CODE>, tarjeta <CREDIT_CARD>. Mi DNI es <ES_NIF>, el de mi marido "
        "(NIE) <ES_NIE> y el CIF de la empresa <ES_CIF>. Vivo en <LOCATION> y trabajo en la <LOCATION>."
    )


def test_every_kind_is_masked_in_an_english_text(masker):
    masked = masker.mask(ENGLISH, "en")
    for value in (EMAIL, PHONE_UK, PHONE_US, CARD, DNI, EN_ADDRESS, UK_POSTCODE, "John", "Smith", "NW1 6XE"):
        assert value not in masked.text
    assert masked.counts() == {
        "PERSON": 1,
        "EMAIL_ADDRESS": 1,
        "PHONE_NUMBER": 2,
        "CREDIT_CARD": 1,
        "ES_NIF": 1,
        "LOCATION": 2,
    }
    assert "Mr <PERSON>" in masked.text and "I live at <LOCATION>;" in masked.text


def test_findings_are_spans_of_the_original_text_without_overlaps(masker):
    findings = masker.scan(SPANISH)
    spans = {SPANISH[f.start : f.end]: f.entity for f in findings}
    assert spans[EMAIL] == "EMAIL_ADDRESS"
    assert spans[DNI] == "ES_NIF"
    assert spans[NIE] == "ES_NIE"
    assert spans[CIF] == "ES_CIF"
    assert spans[ES_ADDRESS] == "LOCATION"
    assert spans["Lucía Fernández"] == "PERSON"
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))
    assert all(0.4 <= f.score <= 1.0 for f in findings)


def test_a_dni_with_the_wrong_letter_is_not_an_nif(masker):
    text = "Mi DNI es 12345678A, no otro."
    assert [f for f in masker.scan(text) if f.entity == "ES_NIF"] == []
    assert masker.mask(text).text == text


def test_other_addresses_and_titles_are_found(masker):
    assert masker.mask("Escriba a D. Juan Pérez de la Torre, Avda. de la Constitución, 3, 2º B.").text == (
        "Escriba a D. <PERSON>, <LOCATION>."
    )
    assert masker.mask("Quedamos con don Pedro en la calle del Dr. Fleming 7.").text == (
        "Quedamos con don <PERSON> en la <LOCATION>."
    )
    assert masker.mask("Ask Dr. J. Watson at 10 Downing Street.", "en").text == "Ask Dr. <PERSON> at <LOCATION>."
    # The full stop after the town stays.
    assert masker.mask("Envíelo a Plaza Mayor 1, 28012 Madrid. Gracias.").text == "Envíelo a <LOCATION>. Gracias."


def test_ordinary_questions_with_numbers_are_left_alone(masker):
    for text, language in [
        ("¿En qué año se fundó la empresa? En 1998, con 250 empleados y 12.000 clientes en 45 países.", "es"),
        ("La calle Mayor es la más antigua; el 5 de mayo de 2020 se cerró al tráfico.", "es"),
        ("La Plaza de Mayo 1810 recuerda la revolución; la Avenida de Mayo, 1894.", "es"),
        ("In 2019 the Supreme Court heard 3 cases; the median latency was 10 ms on 8 GPUs.", "en"),
    ]:
        masked = masker.mask(text, language)
        assert masked.findings == ()
        assert masked.text == text


def test_pseudonyms_are_the_same_for_one_value_and_differ_between_values():
    masker = PiiMasker(PiiMode.PSEUDONYMISE, secret=SECRET)
    first = masker.mask(f"Escribe a {EMAIL} o llama al +34 612 345 678.")
    second = masker.mask(f"Contact {EMAIL.upper()} or +34-612-345-678.", "en")
    other = masker.mask("Escribe a pedro@example.com o llama al +34 699 111 222.")

    email = expected_pseudonym("EMAIL_ADDRESS", EMAIL)
    phone = expected_pseudonym("PHONE_NUMBER", "+34612345678")
    assert first.text == f"Escribe a {email} o llama al {phone}."
    assert second.text == f"Contact {email} or {phone}."
    assert email not in other.text and phone not in other.text
    assert re.fullmatch(r"Escribe a <EMAIL_ADDRESS_[0-9a-f]{8}> o llama al <PHONE_NUMBER_[0-9a-f]{8}>\.", other.text)
    # Another secret, other pseudonyms.
    assert email not in PiiMasker(PiiMode.PSEUDONYMISE, secret=b"another").mask(f"Escribe a {EMAIL}.").text


def test_pseudonymising_needs_a_secret():
    with pytest.raises(ValueError, match="non-empty secret"):
        PiiMasker(PiiMode.PSEUDONYMISE)


def test_keep_leaves_the_text_alone_but_reports_what_it_found():
    masked = PiiMasker(PiiMode.KEEP).mask(SPANISH)
    assert masked.text == SPANISH
    assert masked.counts()["PHONE_NUMBER"] == 2
    assert sum(masked.counts().values()) == 11
    assert Finding("ES_NIF", SPANISH.index(DNI), SPANISH.index(DNI) + len(DNI), 1.0) in masked.findings


@pytest.mark.parametrize("mode", [PiiMode.MASK, PiiMode.PSEUDONYMISE])
def test_a_scan_of_our_own_finds_nothing_left_after_masking(mode):
    masker = PiiMasker(mode, secret=SECRET)
    before = {name: pattern.findall(SPANISH + ENGLISH) for name, pattern in LEFTOVERS.items()}
    assert all(before.values()), before  # the check does see what it looks for
    for text, language in [(SPANISH, "es"), (ENGLISH, "en")]:
        masked = masker.mask(text, language).text
        assert {name: pattern.findall(masked) for name, pattern in LEFTOVERS.items()} == {
            name: [] for name in LEFTOVERS
        }


def test_an_unknown_language_is_read_as_spanish(masker):
    assert masker.mask(SPANISH, "de").text == masker.mask(SPANISH, "es").text
    assert masker.mask(ENGLISH, "en-GB").text == masker.mask(ENGLISH, "en").text
    assert masker.mask("", "xx").findings == ()


def test_nothing_goes_to_the_network(monkeypatch):
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    masker = PiiMasker()  # a fresh one, so its first e-mail check (the suffix list load) runs under the patch
    masked = masker.mask("Escríbeme a maria.lopez@correo.example.es o a info@empresa.co.uk.")
    assert masked.text == "Escríbeme a <EMAIL_ADDRESS> o a <EMAIL_ADDRESS>."
    assert attempts == []
