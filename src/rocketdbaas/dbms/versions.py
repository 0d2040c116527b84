"""Versions as the fleet reports them, and the one order every page, report and plan uses.

A version text reads as  [family] release [suffix]:

    "15.10"                          release (15, 10)
    "15.20-p5"                       release (15, 20), suffix "-p5"
    "16.4 (Debian 16.4-1.pgdg120+1)" release (16, 4), suffix " (Debian 16.4-1.pgdg120+1)"
    "6.0.19-16"                      release (6, 0, 19), suffix "-16"
    "8.0.0-rc3"                      release (8, 0, 0), suffix "-rc3" (a pre-release)
    "RHEL 9.4", "rhel-9.4"           family "rhel", release (9, 4)

The release is the first run of dot-separated numbers; the family is the text before it
(lower-cased, punctuation dropped), which tells OS versions apart. A text without any number
("", "n/a", "unknown", None) is unknown: it is never below, at or above anything.

Order (total, so lists sort and min/max work):
1. every unknown version sorts before every known one (it needs a look first);
   unknowns are ordered by their text, so only equal texts are equal;
2. then by family ("" first), then by release compared as a tuple of integers
   ("15.10" > "15.9"; "15" < "15.0", exactly as (15,) < (15, 0));
3. then by suffix: a pre-release (dev < alpha < beta < pre/preview < rc) sorts before the
   bare release, which sorts before any other suffix (a vendor patch level or package
   build: "15.20-p5" > "15.20", "6.0.19-16" > "6.0.19"). Suffixes of the same kind compare
   by their parts: numbers numerically, words case-insensitively, punctuation ignored.

Texts that differ only in what the order ignores (case and punctuation of the family and
suffix, leading zeros) are equal versions; str() still gives the text as reported.
"""

import re
from collections.abc import Iterable, Mapping
from functools import total_ordering
from typing import Any

from django.db.models import Case, IntegerField, Value, When

_RELEASE = re.compile(r"\d+(?:\.\d+)*")
_PARTS = re.compile(r"\d+|[a-z]+")
_PRE_RELEASES = {"dev": 0, "alpha": 1, "beta": 2, "pre": 3, "preview": 3, "rc": 4}
_PRE, _BARE, _POST = 0, 1, 2


def _parts_key(parts: Iterable[str]) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


@total_ordering
class Version:
    """One reported version; see the module docstring for how texts parse and order."""

    __slots__ = ("_key", "_rank_key", "family", "release", "suffix", "text")

    family: str
    release: tuple[int, ...]
    suffix: str
    text: str

    def __init__(self, text: "str | Version | None") -> None:
        if isinstance(text, Version):
            text = text.text
        self.text = (text or "").strip()
        match = _RELEASE.search(self.text)
        if match is None:
            self.family, self.release, self.suffix = "", (), ""
            self._rank_key: tuple[Any, ...] = ()
            self._key: tuple[Any, ...] = (0, self.text)
            return
        self.family = re.sub(r"[^a-z0-9]+", " ", self.text[: match.start()].lower()).strip()
        self.release = tuple(int(n) for n in match.group().split("."))
        self.suffix = self.text[match.end() :]
        parts = _PARTS.findall(self.suffix.lower())
        if not parts:
            suffix_key: tuple[Any, ...] = (_BARE, ())
        elif parts[0] in _PRE_RELEASES:
            suffix_key = (_PRE, (_PRE_RELEASES[parts[0]], _parts_key(parts[1:])))
        else:
            suffix_key = (_POST, _parts_key(parts))
        # The rank without the family: how a bare target ("16.4") judges any family.
        self._rank_key = (self.release, *suffix_key)
        self._key = (1, self.family, *self._rank_key)

    @property
    def is_unknown(self) -> bool:
        return self._key[0] == 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key == other._key

    def __lt__(self, other: "Version") -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key < other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Version({self.text!r})"


def is_below(version: "str | Version | None", target: "str | Version | None") -> bool | None:
    """Whether `version` is older than `target`; None when that cannot be told.

    It cannot be told when either is unknown, or when the target names a family ("rhel9.4")
    and the version is of another one ("ubuntu 22.04"). A target without a family ("16.4")
    judges every version by release and suffix. Callers must not read None as up to date.
    """
    have, want = Version(version), Version(target)
    if have.is_unknown or want.is_unknown:
        return None
    if want.family and have.family != want.family:
        return None
    return have._rank_key < want._rank_key


def is_at(version: "str | Version | None", target: "str | Version | None") -> bool:
    """Whether `version` is the `target` version (same rule as is_below; unknown is never at)."""
    have, want = Version(version), Version(target)
    return is_below(have, want) is False and have._rank_key == want._rank_key


def version_ranks(texts: Iterable[str]) -> dict[str, int]:
    """Each text's position in version order; texts of equal versions share a position."""
    versions = {text: Version(text) for text in texts}
    ordered = sorted(set(versions.values()))
    position = {v: n for n, v in enumerate(ordered)}
    return {text: position[v] for text, v in versions.items()}


def rank_expression(field: str, ranks: Mapping[str, int]) -> Case:
    """A SQL expression giving `field`'s version rank (from version_ranks), so the database can
    sort, Min and Max versions in version order; texts not in `ranks` give NULL."""
    whens = [When(**{field: text}, then=Value(rank)) for text, rank in ranks.items()]
    return Case(*whens, default=Value(None), output_field=IntegerField())
