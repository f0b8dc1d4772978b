"""Writes labelled.jsonl: texts as customers write them, with the personal data each holds (kind, value).

Run once (``python tests/data/pii/build_labelled.py``); the JSONL is committed. Card numbers are made for
each scheme (random digits, Luhn completed), IBANs are published example accounts; the negatives are what
agents need to see: order, invoice and tracking numbers, Message-IDs, phone numbers, IMEIs, dates, amounts."""

from __future__ import annotations

import json
import random
from pathlib import Path

from stdnum import luhn

rng = random.Random(20261207)


def card(prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + luhn.calc_check_digit(body)


def luhn_number(length: int, first: str) -> str:
    body = first + "".join(rng.choice("0123456789") for _ in range(length - 2))
    return body + luhn.calc_check_digit(body)


def grouped(n: str, sizes: tuple[int, ...], sep: str = " ") -> str:
    out, at = [], 0
    for s in sizes:
        out.append(n[at : at + s])
        at += s
    if at < len(n):
        out.append(n[at:])
    return sep.join(out)


CARDS = [
    ("4", 16),
    ("4", 13),
    ("4", 19),
    ("51", 16),
    ("55", 16),
    ("2221", 16),
    ("2720", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
    ("65", 16),
    ("644", 16),
    ("3528", 16),
    ("3589", 16),
    ("36", 14),
    ("300", 14),
    ("62", 16),
    ("6304", 16),
    ("6759", 18),
    ("5018", 16),
    ("2200", 16),
]
IBANS = [
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91ABNA0417164300",
    "ES91 2100 0418 4502 0005 1332",
    "IT60 X054 2811 1010 0000 0123 456",
    "BE68 5390 0754 7034",
    "AT611904300234573201",
    "CH93 0076 2011 6238 5295 7",
    "PL61 1090 1014 0000 0712 1981 2874",
    "SE4550000000058398257466",
    "DK50 0040 0440 1162 43",
    "FI2112345600000785",
    "IE29 AIBK 9311 5212 3456 78",
    "PT50000201231234567890154",
    "NO9386011117947",
    "LU280019400644750000",
]
CARD_TEMPLATES = [
    "Hi, please charge my card {v} for the renewal.",
    "Card number: {v}\nExpiry 09/28",
    "You can use {v}, it's my company Visa.",
    "My card ({v}) was charged twice for order #100245.",
    "> card {v}\n> thanks",
    "Kartennummer {v} bitte belasten.",
    "{v}",
]
IBAN_TEMPLATES = [
    "Please refund to IBAN {v}, account holder Jane Doe.",
    "Bankverbindung: {v} (Sparkasse)",
    "IBAN:{v}",
    "Refund to {v} please. Order 8812-3312.",
    "Mon IBAN est {v}.",
]
items: list[dict] = []


def add(text: str, pii: list[tuple[str, str]], note: str) -> None:
    for _, value in pii:
        assert value in text, (value, text)
    items.append({"text": text, "pii": [{"kind": k, "value": v} for k, v in pii], "note": note})


for i, (prefix, length) in enumerate(CARDS):
    n = card(prefix, length)
    printed = {
        13: (4, 4, 5),
        14: (4, 6, 4),
        15: (4, 6, 5),
        16: (4, 4, 4, 4),
        17: (4, 4, 4, 5),
        18: (4, 4, 4, 6),
        19: (4, 4, 4, 4, 3),
    }[length]  # as the schemes print them
    forms = [n, grouped(n, printed), grouped(n, printed, "-")]
    for j, v in enumerate(forms):
        add(CARD_TEMPLATES[(i + j) % len(CARD_TEMPLATES)].format(v=v), [("card", v)], f"card {prefix}/{length}")
for i, v in enumerate(IBANS):
    add(IBAN_TEMPLATES[i % len(IBAN_TEMPLATES)].format(v=v), [("iban", v)], "iban")

# Both at once, beside numbers that must stay.
visa = grouped(card("4", 16), (4, 4, 4, 4))
add(
    f"Order #4410023 shipped with tracking 1Z999AA10123456784. Pay with {visa} or to DE89 3704 0044 0532 0130 00.",
    [("card", visa), ("iban", "DE89 3704 0044 0532 0130 00")],
    "mixed",
)
mc = card("51", 16)
add(
    f"Invoice INV-2026-004512, amount 1,299.00 EUR. Card {mc}. Call me on +49 30 901820 or 030 1234567.",
    [("card", mc)],
    "mixed",
)

# National identifiers and secrets.
for text, value in [
    ("My SSN is 536-22-8726 if you need it.", "536-22-8726"),
    ("DNI 12345678Z", "12345678Z"),
    ("Codice fiscale: RSSMRA85T10A562S", "RSSMRA85T10A562S"),
    ("Henkilötunnus 131052-308T", "131052-308T"),
    ("Numéro de sécu 2 95 10 99 126 111 93 merci", "2 95 10 99 126 111 93"),
    ("Rijksregisternummer 85.07.30-033.28", "85.07.30-033.28"),
    ("Personnummer: 880320-0016", "880320-0016"),
    ("CPR 211062-5629", "211062-5629"),
    ("Steuer-ID: 36 574 261 809", "36 574 261 809"),
    ("BSN 111222333", "111222333"),
    ("PESEL 44051401359", "44051401359"),
    ("NI number AB 12 34 56 C", "AB 12 34 56 C"),
]:
    add(text, [("national_id", value)], "national id")
for text, value in [
    ("Username: jdoe\nPassword: Winter2026!\nThanks", "Winter2026!"),
    ("password=hunter2", "hunter2"),
    ("Passwort: Geheim 123", "Geheim 123"),
    ("my password: correct horse battery staple", "correct horse battery staple"),
    ("api key: sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("Login bob, pwd: s3cr3t, then click OK", "s3cr3t"),
    ("PIN: 4711", "4711"),
]:
    add(text, [("secret", value)], "secret")

# Negatives: no personal data of these kinds.
negatives = [
    "Order #{o} has not arrived yet.",
    "Order no. {o} - please check.",
    "Bestellnummer: {o}",
    "Your tracking number is 1Z999AA10123456784.",
    "USPS tracking 9400111899223334445566",
    "USPS 9400 1000 0000 0000 0000 00",
    "FedEx tracking 7489 2045 8916",
    "FedEx 123456789012345",
    "DHL Sendungsnummer 00340434161094042557",
    "Royal Mail AB123456789GB",
    "Amazon order 112-1234567-1234567",
    "Message-ID: <CAFk3qF1234567890123456@mail.gmail.com>",
    "In-Reply-To: <4111111111111111@example.com>",
    "References: <20260301123456.4111111111111111.JavaMail@host.example.com>",
    "Call me at +1 415 555 0123 or +44 20 7946 0958.",
    "Phone: (030) 1234 5678, mobile 0151 23456789",
    "Tel +49 151 2345 6789",
    "+4930123456789012",
    "Invoice INV-2026-000123 is overdue.",
    "Invoice 2026-0042-7781 from 03/04/2026",
    "Ticket HL-2026-000042 again",
    "Ref 4111 1111",
    "IMEI: 356938035643809",
    "Serial SN 5567 8823 1109 4432",
    "It costs 1,234,567.89 EUR.",
    "Meeting on 2026-03-01 at 10:30.",
    "UUID 123e4567-e89b-12d3-a456-426614174000",
    "Commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "IP 192.168.100.200 and port 8080",
    "Our VAT ID is DE136695976.",
    "SWIFT/BIC DEUTDEFF500",
    "Account 1234567890, sort code 12-34-56",
    "The password field is empty, I cannot log in.",
    "Reset my password please.",
    "Download https://example.com/files/4111111111111111/receipt.pdf",
    "Case 4024 0071 2345 6789 reopened",
    "Customer number 4539 1488 0343 6467",
]
for t in negatives:
    o = luhn_number(16, "4")  # a Luhn-valid order number with a card's prefix: labelled, so not a card
    add(t.format(o=o), [], "negative")

out = Path(__file__).with_name("labelled.jsonl")
out.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
print(f"{len(items)} texts, {sum(len(i['pii']) for i in items)} labelled values -> {out}")
