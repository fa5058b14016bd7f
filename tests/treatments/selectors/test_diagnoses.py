"""The ICD-10-CM search over the full code set the package ships."""

from treatments.selectors.diagnoses import (
    SEARCH_LIMIT_MAX,
    icd10_billable,
    icd10_search,
)


def codes(query: str, limit: int = 20) -> list[str]:
    return [found.code for found in icd10_search(query=query, limit=limit)]


def test_milia_finds_epidermal_cyst_first():
    found = icd10_search(query="milia", limit=5)
    assert found[0].code == "L72.0"
    assert found[0].description == "Epidermal cyst"
    assert "L74.0" in [code.code for code in found]  # miliaria rubra, the look-alike


def test_milium_in_any_case_finds_epidermal_cyst_first():
    assert codes(" Milium ")[0] == "L72.0"


def test_a_code_prefix_finds_its_billable_codes_in_order():
    found = codes("L72", limit=50)
    assert found[:3] == ["L72.0", "L72.11", "L72.12"]
    assert "L72" not in found  # a category with subcodes is not billable
    assert "L72.1" not in found
    assert all(code.startswith("L72") for code in found)


def test_a_code_with_or_without_its_dot_finds_it():
    assert codes("l72.0") == codes("L720") == ["L72.0"]


def test_seventh_character_codes_are_found_by_prefix():
    assert codes("S01.01X", limit=3) == ["S01.01XA", "S01.01XD", "S01.01XS"]


def test_words_of_the_description_find_codes_in_any_order():
    found = icd10_search(query="eyelid xanthelasma", limit=50)
    assert found
    assert all("xanthelasma" in code.description.lower() for code in found)
    assert "H02.61" in [code.code for code in found]


def test_whole_words_come_before_word_starts():
    assert codes("acne vulgaris")[0] == "L70.0"


def test_the_code_set_is_the_full_one_not_a_short_list():
    # From other chapters than the skin's: the search is over the whole code set.
    assert (
        icd10_billable(code="E11.9").description == "Type 2 diabetes mellitus without complications"
    )
    assert icd10_billable(code="Z00.00") is not None


def test_an_unknown_or_non_billable_code_is_refused():
    assert icd10_billable(code="L72") is None  # a category
    assert icd10_billable(code="Q7Z9.X1") is None
    assert icd10_billable(code="") is None


def test_the_limit_is_kept_within_bounds():
    assert len(codes("cyst", limit=3)) == 3
    assert len(codes("cyst", limit=1000)) == SEARCH_LIMIT_MAX
    assert len(codes("cyst", limit=0)) == 1


def test_an_empty_query_finds_nothing():
    assert codes("") == []
    assert codes(" .,- ") == []


def test_words_that_match_no_description_find_nothing():
    assert codes("zzqx wobble") == []
