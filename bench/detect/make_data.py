"""A seeded synthetic PII set in the eval format (`{"id", "text", "entities": [{type, text}]}`),
so the detector benchmark runs on a plain clone (no `../shared` needed).

    python bench/detect/make_data.py --out bench/results/pii_synth.jsonl [--n 400] [--seed 7]

Values are valid where validity matters to a detector (Luhn for cards, ISO 7064 for IBANs,
SSN areas that were issuable); a third of the texts carry no PII but look like they might
(hashes, UUIDs, version numbers, dates).
"""

from __future__ import annotations

import argparse
import json
import random
import string
from pathlib import Path

from stdnum import iban, luhn

FIRST = ["Ana", "Tom", "Priya", "Lena", "Omar", "Jun", "Sofia", "Mark", "Aisha", "Ken"]
LAST = ["Silva", "Meyer", "Okafor", "Novak", "Haddad", "Tanaka", "Rossi", "Berg", "Khan"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net"]


def email(r: random.Random) -> str:
    return (
        f"{r.choice(FIRST).lower()}.{r.choice(LAST).lower()}{r.randint(1, 99)}@{r.choice(DOMAINS)}"
    )


def phone(r: random.Random) -> str:
    return f"+1 415 555 {r.randint(100, 199):04d}"


def card(r: random.Random) -> str:
    body = "4" + "".join(r.choice(string.digits) for _ in range(14))
    digits = body + luhn.calc_check_digit(body)
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def ssn(r: random.Random) -> str:
    return f"{r.randint(100, 665):03d}-{r.randint(10, 99):02d}-{r.randint(1000, 9999):04d}"


def iban_nl(r: random.Random) -> str:
    bban = "INGB" + "".join(r.choice(string.digits) for _ in range(10))
    check = iban.calc_check_digits("NL00" + bban)
    raw = f"NL{check}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def ip(r: random.Random) -> str:
    return ".".join(str(r.randint(11, 223)) for _ in range(4))


def secret(r: random.Random) -> str:
    return "AKIA" + "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(16))


TYPES = [
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN",
    "IP_ADDRESS",
    "SECRET",
    "PERSON",
    "ADDRESS",
    "LOCATION",
    "DATE_OF_BIRTH",
]
MAKERS = {
    "EMAIL": email,
    "PHONE": phone,
    "CREDIT_CARD": card,
    "US_SSN": ssn,
    "IBAN": iban_nl,
    "IP_ADDRESS": ip,
    "SECRET": secret,
}
TEMPLATES = [
    "Support ticket from {name}: please update {v}.",
    "Escalation: customer {name} wrote from {v} about a refund.",
    "Export row: {name}, {v}, account closed.",
    "The model answered with {v} when asked about {name}.",
]
NEGATIVES = [
    "Deployed build {h} to production at 03/04/2027 after review.",
    "Request id {u} failed with status 502 after 30012 ms.",
    "Version 2.14.1 of the tokenizer fixed issue 4411 for release {h}.",
    "Latency p99 rose to 1834 ms on 2027-01-12; error budget 0.4% left.",
]


def make(n: int, seed: int) -> list[dict[str, object]]:
    r = random.Random(seed)
    rows: list[dict[str, object]] = []
    for i in range(n):
        if i % 3 == 2:
            text = r.choice(NEGATIVES).format(
                h="".join(r.choice("0123456789abcdef") for _ in range(40)),
                u="-".join(
                    "".join(r.choice("0123456789abcdef") for _ in range(k))
                    for k in (8, 4, 4, 4, 12)
                ),
            )
            entities: list[dict[str, str]] = []
        else:
            kind = r.choice(list(MAKERS))
            value = MAKERS[kind](r)
            name = f"{r.choice(FIRST)} {r.choice(LAST)}"
            template = r.choice(TEMPLATES)
            text = template.format(name=name, v=value)
            entities = [{"type": kind, "text": value}]
            # The name is a PERSON (labelled since the detector finds names, issue 30).
            ents = [("PERSON", name), (kind, value)]
            if template.index("{name}") > template.index("{v}"):
                ents.reverse()
            entities = [{"type": t, "text": v} for t, v in ents]
        rows.append({"id": f"synth-{i:05d}", "text": text, "entities": entities, "types": TYPES})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = make(args.n, args.seed)
    out.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    print(f"wrote {len(rows)} texts to {out} (seed {args.seed})")


if __name__ == "__main__":
    main()
