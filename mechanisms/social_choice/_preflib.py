"""PrefLib ordinal files (``.soc``, ``.soi``, ``.toc``, ``.toi``): read and write profiles.

PrefLib (N. Mattei and T. Walsh, "PrefLib: a library for preferences", ADT 2013; the 2022
format of preflib.org) stores an ordinal profile as a header of ``# KEY: value`` lines and one
line per distinct ballot, ``count: order``. Alternatives are numbered from 1; an order lists
them best first, separated by commas, with tied alternatives in braces::

    # DATA TYPE: toi
    # NUMBER ALTERNATIVES: 4
    # NUMBER VOTERS: 5
    # NUMBER UNIQUE ORDERS: 2
    # ALTERNATIVE NAME 1: Memphis
    3: 2,{1,3}
    2: 4

The four types: ``soc`` strict complete orders, ``soi`` strict incomplete, ``toc`` complete with
ties, ``toi`` incomplete with ties. Alternatives an incomplete order leaves out are unranked
(the profile's sentinel). The pre-2022 format (a first line with the number of alternatives,
then ``i,name`` lines, a ``voters,sum,unique`` line and ``count,order`` lines) is read too.

Reading is strict: a malformed file raises ``ValueError`` naming the line number (1-based) and
what is wrong there, and a ballot that breaks its declared type (a tie in a ``soc`` file, a
missing alternative in a ``toc`` file) is refused.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re

import numpy as np

from ._profile import Profile

__all__ = ["PrefLibInstance", "read_preflib", "write_preflib"]

DATA_TYPES = ("soc", "soi", "toc", "toi")
_GROUP = re.compile(r"\{[^{}]*\}|[^,{}]+")


@dataclasses.dataclass(frozen=True)
class PrefLibInstance:
    """A PrefLib ordinal instance: the profile and its header.

    Attributes:
      profile: the :class:`Profile` (one row per distinct ballot, ``counts`` its multiplicity;
        candidate ``c`` is PrefLib alternative ``c + 1``).
      data_type: ``"soc"``, ``"soi"``, ``"toc"`` or ``"toi"``.
      alternative_names: the name of each candidate (PrefLib's ``ALTERNATIVE NAME`` lines;
        ``str(c + 1)`` when absent).
      metadata: every other header field (``{"TITLE": ..., "FILE NAME": ...}``).

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> inst = sc.read_preflib("# DATA TYPE: soc\\n# NUMBER ALTERNATIVES: 2\\n3: 2,1\\n")
      >>> inst.data_type, inst.profile.ranks.tolist(), inst.profile.counts.tolist()
      ('soc', [[1, 0]], [3.0])
    """

    profile: Profile
    data_type: str
    alternative_names: tuple[str, ...]
    metadata: dict


def _is_path(source) -> bool:
    if isinstance(source, os.PathLike):
        return True
    return isinstance(source, str) and "\n" not in source and ":" not in source.split(
        os.sep)[-1] and pathlib.Path(source).is_file()


def _parse_order(text: str, m: int, lineno: int) -> list[list[int]]:
    """``"2,{1,3},4"`` -> ``[[1], [0, 2], [3]]`` (0-based), checked."""
    text = "".join(text.split())
    if not text:
        return []
    if re.search(r"[^0-9,{}]", text) or text.count("{") != text.count("}"):
        raise ValueError(f"line {lineno}: the order {text!r} must list alternatives (numbers), "
                         f"commas and {{...}} groups of tied alternatives")
    groups, seen = [], set()
    pos = 0
    for match in _GROUP.finditer(text):
        between = text[pos:match.start()]
        if between not in ("", ","):
            raise ValueError(f"line {lineno}: cannot read the order {text!r} near {between!r}")
        pos = match.end()
        token = match.group(0)
        members = token[1:-1].split(",") if token.startswith("{") else [token]
        if any(not t.isdigit() for t in members):
            raise ValueError(f"line {lineno}: empty or malformed group {token!r} in {text!r}")
        group = []
        for t in members:
            a = int(t)
            if not 1 <= a <= m:
                raise ValueError(f"line {lineno}: alternative {a} is outside 1..{m}")
            if a in seen:
                raise ValueError(f"line {lineno}: alternative {a} appears twice in one order")
            seen.add(a)
            group.append(a - 1)
        groups.append(group)
    if text[pos:].strip(",") or text.endswith(",,"):
        raise ValueError(f"line {lineno}: cannot read the end of the order {text!r}")
    return groups


def _check_type(groups, m: int, data_type: str, where: str):
    if data_type in ("soc", "soi") and any(len(g) > 1 for g in groups):
        raise ValueError(f"{where}: a {data_type} file holds strict orders, but this "
                         f"order has tied alternatives")
    if data_type in ("soc", "toc") and sum(len(g) for g in groups) != m:
        raise ValueError(f"{where}: a {data_type} file holds complete orders, but this "
                         f"order ranks {sum(len(g) for g in groups)} of {m} alternatives")


def _infer_type(groups_list, m: int) -> str:
    ties = any(len(g) > 1 for groups in groups_list for g in groups)
    complete = all(sum(len(g) for g in groups) == m for groups in groups_list)
    return ("t" if ties else "s") + "o" + ("c" if complete else "i")


def _build(ballots, counts, m, data_type, names, metadata) -> PrefLibInstance:
    ranks = np.full((max(len(ballots), 1), m), m, dtype=np.int32)
    cnt = np.zeros(max(len(ballots), 1))
    for k, (groups, c) in enumerate(zip(ballots, counts)):
        for j, group in enumerate(groups):
            ranks[k, group] = j
        cnt[k] = c
    if data_type is None:
        data_type = _infer_type(ballots, m)
    return PrefLibInstance(Profile(ranks, cnt), data_type, tuple(names), metadata)


def _read_old(lines, data_type) -> PrefLibInstance:
    def fail(i, what):
        raise ValueError(f"line {i + 1}: {what} (pre-2022 PrefLib format)")

    try:
        m = int(lines[0].strip())
    except ValueError:
        fail(0, f"expected the number of alternatives, got {lines[0].strip()!r}")
    if m <= 0:
        fail(0, f"the number of alternatives must be positive, got {m}")
    names = []
    for i in range(1, m + 1):
        if i >= len(lines) or "," not in lines[i]:
            fail(min(i, len(lines) - 1), "expected an 'index,name' line for each alternative")
        idx, name = lines[i].split(",", 1)
        if idx.strip() != str(i):
            fail(i, f"expected alternative {i}, got {idx.strip()!r}")
        names.append(name.strip())
    if m + 1 >= len(lines):
        fail(len(lines) - 1, "missing the 'voters,sum of counts,unique orders' line")
    try:
        voters, _, unique = (int(x) for x in lines[m + 1].split(","))
    except ValueError:
        fail(m + 1, f"expected 'voters,sum of counts,unique orders', got {lines[m + 1]!r}")
    ballots, counts = [], []
    for i in range(m + 2, len(lines)):
        line = lines[i].strip()
        if not line:
            continue
        count, _, order = line.partition(",")
        if not count.strip().isdigit() or int(count) <= 0:
            fail(i, f"expected a positive count before the order, got {count.strip()!r}")
        groups = _parse_order(order.replace("{}", ""), m, i + 1)
        if data_type is not None:
            _check_type(groups, m, data_type, f"line {i + 1}")
        ballots.append(groups)
        counts.append(int(count))
    if sum(counts) != voters or len(ballots) != unique:
        fail(m + 1, f"the header declares {voters} voters and {unique} unique orders; the file "
                    f"holds {sum(counts)} and {len(ballots)}")
    return _build(ballots, counts, m, data_type, names, {})


def read_preflib(source, *, data_type: str | None = None) -> PrefLibInstance:
    """Read a PrefLib ordinal file (``soc``/``soi``/``toc``/``toi``) from a path or its text.

    Args:
      source: a path (``str`` or ``os.PathLike``) to an existing file, or the file's text.
      data_type: the expected type; default: the ``# DATA TYPE`` header, else the file's
        extension, else inferred from the ballots.

    Returns:
      A :class:`PrefLibInstance` whose ``profile`` has one row per ballot line.

    Raises:
      TypeError: if ``source`` is neither text nor a path.
      ValueError: if the file is malformed (the message names the line, 1-based), a ballot
        breaks the data type, the declared numbers of voters or unique orders disagree with the
        ballots, or ``data_type`` is unknown.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> text = "# DATA TYPE: toi\\n# NUMBER ALTERNATIVES: 3\\n2: 2,{1,3}\\n1: 3\\n"
      >>> inst = sc.read_preflib(text)
      >>> inst.profile.ranks.tolist(), inst.profile.counts.tolist()
      ([[1, 0, 1], [3, 3, 0]], [2.0, 1.0])
      >>> sc.read_preflib("# NUMBER ALTERNATIVES: 3\\n2: 2,4\\n")
      Traceback (most recent call last):
      ...
      ValueError: line 2: alternative 4 is outside 1..3
    """
    if data_type is not None and data_type not in DATA_TYPES:
        raise ValueError(f"data_type must be one of {DATA_TYPES}, got {data_type!r}")
    if _is_path(source):
        path = pathlib.Path(source)
        text = path.read_text(encoding="utf-8")
        ext = path.suffix.lstrip(".").lower()
        if data_type is None and ext in DATA_TYPES:
            data_type = ext
    elif isinstance(source, str):
        text = source
    else:
        raise TypeError(f"source must be a path or the text of a PrefLib file, got "
                        f"{type(source).__name__}")
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ValueError("line 1: the file is empty")
    if not lines[first].lstrip().startswith("#"):
        if first:
            raise ValueError("line 1: a pre-2022 PrefLib file starts with the number of "
                             "alternatives on its first line")
        return _read_old(lines, data_type)

    header, m, declared, names, metadata = {}, None, {}, {}, {}
    i = 0
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        key, value = key.strip().upper(), value.strip()
        if not sep:
            raise ValueError(f"line {i + 1}: a header line must read '# KEY: value', got "
                             f"{line!r}")
        header[key] = (i + 1, value)
        if key.startswith("ALTERNATIVE NAME"):
            idx = key.removeprefix("ALTERNATIVE NAME").strip()
            if not idx.isdigit():
                raise ValueError(f"line {i + 1}: expected 'ALTERNATIVE NAME <number>', got "
                                 f"{key!r}")
            names[int(idx)] = value
        elif key in ("NUMBER ALTERNATIVES", "NUMBER VOTERS", "NUMBER UNIQUE ORDERS"):
            if not value.isdigit():
                raise ValueError(f"line {i + 1}: {key} must be a non-negative integer, got "
                                 f"{value!r}")
            declared[key] = (i + 1, int(value))
        elif key == "DATA TYPE":
            if value not in DATA_TYPES:
                raise ValueError(f"line {i + 1}: DATA TYPE must be one of {DATA_TYPES} for an "
                                 f"ordinal file, got {value!r}")
            if data_type is not None and data_type != value:
                raise ValueError(f"line {i + 1}: the file declares DATA TYPE {value!r}, "
                                 f"expected {data_type!r}")
            data_type = value
        else:
            metadata[key] = value
    else:
        i = len(lines)
    if "NUMBER ALTERNATIVES" not in declared:
        raise ValueError(f"line {i + 1}: the header ends without '# NUMBER ALTERNATIVES: m'")
    m = declared["NUMBER ALTERNATIVES"][1]
    if m == 0:
        raise ValueError(f"line {declared['NUMBER ALTERNATIVES'][0]}: NUMBER ALTERNATIVES must "
                         f"be positive")
    bad = [a for a in names if not 1 <= a <= m]
    if bad:
        raise ValueError(f"line {header[f'ALTERNATIVE NAME {bad[0]}'][0]}: alternative "
                         f"{bad[0]} is outside 1..{m}")
    ballots, counts = [], []
    for j in range(i, len(lines)):
        line = lines[j].strip()
        if not line:
            continue
        if line.startswith("#"):
            raise ValueError(f"line {j + 1}: a header line after the ballots began")
        count, sep, order = line.partition(":")
        if not sep:
            raise ValueError(f"line {j + 1}: a ballot line must read 'count: order', got "
                             f"{line!r}")
        count = count.strip()
        if not count.isdigit() or int(count) == 0:
            raise ValueError(f"line {j + 1}: the count must be a positive integer, got "
                             f"{count!r}")
        groups = _parse_order(order, m, j + 1)
        if not groups:
            raise ValueError(f"line {j + 1}: empty order")
        if data_type is not None:
            _check_type(groups, m, data_type, f"line {j + 1}")
        ballots.append(groups)
        counts.append(int(count))
    if not ballots:
        raise ValueError(f"line {len(lines)}: the file holds no ballot")
    for key, value in (("NUMBER VOTERS", sum(counts)), ("NUMBER UNIQUE ORDERS", len(ballots))):
        if key in declared and declared[key][1] != value:
            raise ValueError(f"line {declared[key][0]}: the header declares {key} "
                             f"{declared[key][1]}, but the ballots give {value}")
    alt_names = [names.get(a + 1, str(a + 1)) for a in range(m)]
    return _build(ballots, counts, m, data_type, alt_names, metadata)


def write_preflib(profile: Profile, path=None, *, data_type: str | None = None,
                  alternative_names=None, metadata: dict | None = None) -> str:
    """Write one concrete profile as a PrefLib ordinal file (2022 format); return its text.

    Identical ballots are merged, zero-count ballots dropped, and lines sorted by count
    (largest first, as preflibtools writes them). Candidate ``c`` becomes alternative ``c + 1``.

    Args:
      profile: an unbatched :class:`Profile` with integer counts.
      path: if given, the text is also written there.
      data_type: ``soc``/``soi``/``toc``/``toi``; default: the most specific type that fits.
      alternative_names: ``m`` names for the ``ALTERNATIVE NAME`` lines (default ``1..m``).
      metadata: extra header fields, e.g. ``{"TITLE": "Tennessee"}``.

    Returns:
      The file's text.

    Raises:
      TypeError: if ``profile`` is not a :class:`Profile`.
      ValueError: if it is batched, has non-integer counts, no voter, a ballot that does not fit
        ``data_type``, or the wrong number of names.

    Example:
      >>> from socialign.mechanisms import social_choice as sc
      >>> p = sc.Profile.from_ballots([[1, (0, 2)], [2]], 3, counts=[2, 1])
      >>> sc.write_preflib(p).splitlines()[-2:]
      ['2: 2,{1,3}', '1: 3']
    """
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a Profile, got {type(profile).__name__}")
    if profile.batch_shape:
        raise ValueError(f"write_preflib writes one profile; this one has batch shape "
                         f"{profile.batch_shape} (index it first)")
    ranks = np.asarray(profile.ranks)
    counts = np.asarray(profile.counts)
    m = profile.num_candidates
    if np.any(counts != np.round(counts)):
        raise ValueError("PrefLib files hold integer counts; this profile has fractional ones")
    merged: dict[tuple, int] = {}
    for r, c in zip(ranks, counts):
        if c <= 0:
            continue
        levels = sorted(set(r[r < m].tolist()))
        groups = tuple(tuple(np.flatnonzero(r == lv).tolist()) for lv in levels)
        if groups:
            merged[groups] = merged.get(groups, 0) + int(c)
    if not merged:
        raise ValueError("the profile has no voter with a non-empty ballot")
    inferred = _infer_type(list(merged), m)
    if data_type is None:
        data_type = inferred
    if data_type not in DATA_TYPES:
        raise ValueError(f"data_type must be one of {DATA_TYPES}, got {data_type!r}")
    for groups in merged:
        _check_type(groups, m, data_type, "write_preflib")
    names = [str(a + 1) for a in range(m)] if alternative_names is None else [
        str(n) for n in alternative_names]
    if len(names) != m:
        raise ValueError(f"alternative_names must hold {m} names, got {len(names)}")
    out = [f"# DATA TYPE: {data_type}"]
    out += [f"# {k.upper()}: {v}" for k, v in (metadata or {}).items()]
    out += [f"# NUMBER ALTERNATIVES: {m}", f"# NUMBER VOTERS: {sum(merged.values())}",
            f"# NUMBER UNIQUE ORDERS: {len(merged)}"]
    out += [f"# ALTERNATIVE NAME {a + 1}: {n}" for a, n in enumerate(names)]
    for groups, c in sorted(merged.items(), key=lambda kv: (-kv[1], -len(kv[0]))):
        order = ",".join(str(g[0] + 1) if len(g) == 1 else
                         "{" + ",".join(str(a + 1) for a in g) + "}" for g in groups)
        out.append(f"{c}: {order}")
    text = "\n".join(out) + "\n"
    if path is not None:
        pathlib.Path(path).write_text(text, encoding="utf-8")
    return text
