"""The one version order: parsing what the fleet reports, and the order's laws."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rocketdbaas.dbms.versions import Version, is_at, is_below, version_ranks


@pytest.mark.parametrize(
    ("text", "family", "release", "suffix"),
    [
        ("15.10", "", (15, 10), ""),
        ("15.20-p5", "", (15, 20), "-p5"),
        ("16.4 (Debian 16.4-1.pgdg120+1)", "", (16, 4), " (Debian 16.4-1.pgdg120+1)"),
        ("7.0.14", "", (7, 0, 14), ""),
        ("6.0.19-16", "", (6, 0, 19), "-16"),
        ("15", "", (15,), ""),
        ("  15.4\n", "", (15, 4), ""),
        ("RHEL 9.4", "rhel", (9, 4), ""),
        ("rhel-9.4", "rhel", (9, 4), ""),
        ("PostgreSQL 15.4 on x86_64", "postgresql", (15, 4), " on x86_64"),
    ],
)
def test_parses_what_the_fleet_reports(text, family, release, suffix):
    v = Version(text)
    assert not v.is_unknown
    assert (v.family, v.release, v.suffix, str(v)) == (family, release, suffix, text.strip())


@pytest.mark.parametrize("text", ["", None, "   ", "garbage", "n/a", "unknown", "-.-"])
def test_texts_without_a_number_are_unknown(text):
    v = Version(text)
    assert v.is_unknown
    assert str(v) == (text or "").strip()


@pytest.mark.parametrize(
    "ascending",
    [
        ["15.9", "15.10", "15.20"],
        ["7.0.2", "7.0.12", "7.0.14"],
        ["8.0.0-dev", "8.0.0-alpha1", "8.0.0-beta2", "8.0.0-rc1", "8.0.0-rc3", "8.0.0", "8.0.0-1"],
        ["15.20", "15.20-p5", "15.20-p10"],
        ["6.0.19", "6.0.19-16", "6.0.20"],
        ["16.4", "16.4 (Debian 16.4-1.pgdg120+1)", "16.5"],
        ["", "garbage", "0.1"],  # unknown first: it needs a look before anything known
        ["15", "15.0", "15.1"],  # as tuples: (15,) < (15, 0)
    ],
)
def test_order(ascending):
    shuffled = list(reversed(ascending))
    assert [str(v) for v in sorted(Version(t) for t in shuffled)] == ascending


def test_equal_versions_hash_alike_but_keep_their_text():
    rhel, dashed = Version("RHEL 9.4"), Version("rhel-9.4")
    assert rhel == dashed and hash(rhel) == hash(dashed) and str(dashed) == "rhel-9.4"
    assert Version("15.04") == Version("15.4")
    assert Version("n/a") != Version("unknown")
    assert str(max(Version("15.9"), Version("15.10"))) == "15.10"


@pytest.mark.parametrize(
    ("version", "target", "below"),
    [
        ("15.9", "15.10", True),  # numerically, not as strings
        ("15.10", "15.10", False),
        ("15.10.1", "15.10", False),
        ("16.0", "15.10", False),
        ("16.4 (Debian 16.4-1.pgdg120+1)", "16.4", False),
        ("15.20-p5", "15.20-p6", True),
        ("8.0.0-rc3", "8.0.0", True),
        ("PostgreSQL 15.4 on x86_64", "15.10", True),
        ("rhel 9.2", "rhel9.4", True),
        ("RHEL-9.4", "rhel9.4", False),
        ("ubuntu 22.04", "rhel9.4", None),  # another OS family: cannot be told
        ("", "15.10", None),  # unknown: never up to date, never outdated
        ("garbage", "15.10", None),
        ("15.4", "latest", None),
    ],
)
def test_is_below_a_target(version, target, below):
    assert is_below(version, target) is below


def test_is_at_a_target():
    assert is_at("15.10", "15.10") and is_at("RHEL 9.4", "9.4") and is_at("rhel-9.4", "RHEL 9.4")
    assert not is_at("15.9", "15.10") and not is_at("15.10", "15.9")
    assert not is_at("ubuntu 9.4", "rhel 9.4")
    assert not is_at("", "") and not is_at("garbage", "garbage")


def test_ranks_share_a_position_for_equal_versions():
    assert version_ranks(["15.10", "15.9", "", "15.09"]) == {"": 0, "15.9": 1, "15.09": 1, "15.10": 2}


# ------------------------------------------------------------------------- properties

numbers = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=5)
suffixes = st.one_of(
    st.just(""),
    st.sampled_from(["-rc", "-beta", "-alpha", "-dev", "-p", "-", " (Debian ", "+build", ".el"]).flatmap(
        lambda word: st.integers(0, 200).map(lambda n: f"{word}{n}")
    ),
    st.text(max_size=12),
)
families = st.sampled_from(["", "RHEL ", "rhel-", "Ubuntu ", "PostgreSQL "])
structured = st.builds(
    lambda family, release, suffix: f"{family}{'.'.join(map(str, release))}{suffix}",
    families,
    numbers,
    suffixes,
)
texts = st.one_of(structured, st.text(max_size=20), st.none())
versions = texts.map(Version)


@given(versions, versions)
def test_totality_and_antisymmetry(a, b):
    assert [a < b, a == b, a > b].count(True) == 1
    if a <= b and b <= a:
        assert a == b and hash(a) == hash(b)


@given(versions, versions, versions)
def test_transitivity(a, b, c):
    if a <= b and b <= c:
        assert a <= c
    if a == b and b == c:
        assert a == c


@given(st.lists(versions, min_size=2, max_size=8))
def test_a_sorted_list_is_ordered_pairwise(vs):
    # Sorting compares only some pairs; a non-transitive order leaves other pairs inverted.
    ordered = sorted(vs)
    assert all(ordered[i] <= ordered[j] for i in range(len(ordered)) for j in range(i + 1, len(ordered)))


@given(versions)
def test_round_trips_through_its_text(v):
    again = Version(str(v))
    assert again == v and str(again) == str(v) and again.is_unknown == v.is_unknown


@given(numbers, numbers)
def test_numeric_versions_compare_as_tuples(a, b):
    va, vb = Version(".".join(map(str, a))), Version(".".join(map(str, b)))
    assert (va < vb, va == vb, va > vb) == (tuple(a) < tuple(b), tuple(a) == tuple(b), tuple(a) > tuple(b))


@given(versions, versions)
def test_below_agrees_with_the_order_within_a_family(a, b):
    if a.is_unknown or b.is_unknown:
        assert is_below(a, b) is None
    elif a.family == b.family:
        assert is_below(a, b) is (a < b)
        assert is_at(a, b) is (a == b)
