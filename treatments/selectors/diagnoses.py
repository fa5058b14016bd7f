"""ICD-10-CM diagnoses: search over the full code set and the check that a code is billable.

The code set is the one the `simple-icd-10-cm` package ships (the CMS tabular list and
code list of its release; its version is `ICD10_CM_SOURCE`), not a list kept here. Only
billable codes (the leaves of the tabular list, seventh characters included) may stand
on a record or a charge. The package reads its files on first use (about two seconds);
that happens once per process, at the first search or check, not at start-up.
"""

import bisect
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version

ICD10_CM_SOURCE = f"simple-icd-10-cm {version('simple-icd-10-cm')}"
SEARCH_LIMIT_MAX = 50
# A query that reads as a code: a letter, a digit, then up to five more characters.
CODE_QUERY = re.compile(r"[A-Z][0-9][0-9A-Z]{0,5}")
# Index terms that the tabular list's descriptions do not carry (they are in the
# ICD-10-CM Alphabetic Index, which the package does not ship): "milium" is indexed to
# L72.0, epidermal cyst (docs/clinical-background.md).
INDEX_TERMS = {"milia": "L72.0", "milium": "L72.0"}


@dataclass(frozen=True)
class Icd10Code:
    code: str  # with its dot, as printed: L72.0
    description: str


@dataclass(frozen=True)
class _CodeSet:
    codes: tuple[Icd10Code, ...]  # billable codes, by code without the dot
    keys: tuple[str, ...]  # the same codes without the dot, sorted, for prefix search
    words: tuple[str, ...]  # each description lower-cased, words between single spaces
    by_key: dict[str, Icd10Code]


def _words(text: str) -> str:
    """Lower-case words between single spaces, with a space at each end: a word search is
    then a substring search (" cyst " whole, " cys" as the start of a word)."""
    return " " + " ".join(re.findall(r"[0-9a-z]+", text.lower())) + " "


# Run by the child process: every billable code and its description, as JSON.
_EXTRACT = """
import json, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # its loader's importlib.resources call
import simple_icd_10_cm as icd
codes = [[c, icd.get_description(c)] for c in icd.get_all_codes(with_dots=True) if icd.is_leaf(c)]
json.dump(codes, sys.stdout)
"""


@cache
def _code_set() -> _CodeSet:
    extracted = subprocess.run(
        [sys.executable, "-c", _EXTRACT], capture_output=True, check=True, timeout=120
    )
    billable = sorted(
        (code.replace(".", ""), Icd10Code(code=code, description=description))
        for code, description in json.loads(extracted.stdout)
    )
    codes = tuple(code for _, code in billable)
    return _CodeSet(
        codes=codes,
        keys=tuple(key for key, _ in billable),
        words=tuple(_words(code.description) for code in codes),
        by_key=dict(billable),
    )


def _key(code: str) -> str:
    return code.strip().upper().replace(".", "")


def icd10_billable(*, code: str) -> Icd10Code | None:
    """The billable code that `code` names (with or without its dot, any case), else None:
    an unknown code, or a category with subcodes (L72), which a claim may not carry."""
    return _code_set().by_key.get(_key(code))


def _by_code_prefix(code_set: _CodeSet, prefix: str) -> list[Icd10Code]:
    start = bisect.bisect_left(code_set.keys, prefix)
    end = bisect.bisect_left(code_set.keys, prefix + "\uffff")
    return list(code_set.codes[start:end])


def _by_words(code_set: _CodeSet, words: list[str]) -> list[Icd10Code]:
    """Codes whose description has every word at the start of one of its words; those
    with every word whole first, then shorter descriptions, then by code."""
    starts = [f" {word}" for word in words]
    found = []
    for code, text in zip(code_set.codes, code_set.words, strict=True):
        if all(start in text for start in starts):
            whole = all(f"{start} " in text for start in starts)
            found.append((not whole, len(text), code.code, code))
    return [code for *_, code in sorted(found)]


def icd10_search(*, query: str, limit: int = 20) -> list[Icd10Code]:
    """Billable codes for what a clinician types: a code or its start ("L72", "l72.0"),
    or words of the description ("epidermal cyst", "xanthel eyelid"). The clinic's index
    terms come first (L72.0 for "milia"), then codes by prefix, then descriptions.
    At most `limit` codes (1 to SEARCH_LIMIT_MAX); none for an empty query."""
    limit = max(1, min(limit, SEARCH_LIMIT_MAX))
    words = re.findall(r"[0-9a-z]+", query.lower())
    if not words:
        return []
    code_set = _code_set()
    found: dict[str, Icd10Code] = {}
    indexed = INDEX_TERMS.get(" ".join(words))
    if indexed:
        found[indexed] = code_set.by_key[_key(indexed)]
    key = _key(query)
    if CODE_QUERY.fullmatch(key):
        found.update((code.code, code) for code in _by_code_prefix(code_set, key)[:limit])
    if len(found) < limit:
        found.update((code.code, code) for code in _by_words(code_set, words)[:limit])
    return list(found.values())[:limit]
