"""PrefLib ordinal files: read and write, round trips, and strict errors naming the line.

Reference: preflibtools (PrefLib's own parser, installed with pref_voting) reads the files we
write and writes files we read, side by side.
"""

from __future__ import annotations

import numpy as np
import pytest
from socialign.mechanisms import social_choice as sc

TENNESSEE = """# FILE NAME: tennessee.soc
# TITLE: Tennessee capital
# DATA TYPE: soc
# MODIFICATION TYPE: synthetic
# NUMBER ALTERNATIVES: 4
# NUMBER VOTERS: 100
# NUMBER UNIQUE ORDERS: 4
# ALTERNATIVE NAME 1: Memphis
# ALTERNATIVE NAME 2: Nashville
# ALTERNATIVE NAME 3: Chattanooga
# ALTERNATIVE NAME 4: Knoxville
42: 1,2,3,4
26: 2,3,4,1
15: 3,4,2,1
17: 4,3,2,1
"""

OLD_FORMAT = """3
1,a
2,b
3,c
5,5,2
3,1,{2,3}
2,3,1
"""


def _ballots(profile):
    """Multiset of ballots as (count, groups) with dense positions (order-free comparison)."""
    ranks, counts = np.asarray(profile.ranks), np.asarray(profile.counts)
    m = ranks.shape[-1]
    out = {}
    for r, c in zip(ranks, counts):
        if c == 0:
            continue
        levels = sorted(set(r[r < m].tolist()))
        key = tuple(tuple(np.flatnonzero(r == lv).tolist()) for lv in levels)
        out[key] = out.get(key, 0) + c
    return out


def test_read_tennessee_and_its_names():
    inst = sc.read_preflib(TENNESSEE)
    assert inst.data_type == "soc"
    assert inst.alternative_names == ("Memphis", "Nashville", "Chattanooga", "Knoxville")
    assert inst.metadata["TITLE"] == "Tennessee capital"
    assert inst.profile.counts.tolist() == [42, 26, 15, 17]
    assert sc.borda(inst.profile).scores.tolist() == [126.0, 194.0, 173.0, 107.0]


@pytest.mark.parametrize("data_type", ["soc", "soi", "toc", "toi"])
def test_round_trip_through_text_path_and_preflibtools(data_type, tmp_path):
    from preflibtools.instances import OrdinalInstance

    rng = np.random.default_rng({"soc": 0, "soi": 1, "toc": 2, "toi": 3}[data_type])
    m, b = 5, 12
    levels = rng.integers(0, m, (b, m)) if data_type[0] == "t" else np.argsort(
        rng.random((b, m)), -1)
    if data_type[2] == "i":  # truncate: drop each ballot's positions from a random cut on
        cut = rng.integers(1, m, (b, 1))
        levels = np.where(levels >= cut, m, levels)
        levels[:, 0] = np.where((levels == m).all(-1), 0, levels[:, 0])
    p = sc.Profile(levels, rng.integers(1, 6, b).astype(float))
    text = sc.write_preflib(p, tmp_path / f"x.{data_type}", data_type=data_type,
                            metadata={"TITLE": "random"})
    assert (tmp_path / f"x.{data_type}").read_text() == text
    for source in (text, tmp_path / f"x.{data_type}", str(tmp_path / f"x.{data_type}")):
        back = sc.read_preflib(source)
        assert back.data_type == data_type and back.metadata["TITLE"] == "random"
        assert _ballots(back.profile) == _ballots(p)
        np.testing.assert_array_equal(sc.margin_matrix(back.profile), sc.margin_matrix(p))
    # PrefLib's own parser reads our file and agrees ballot by ballot
    ref = OrdinalInstance()
    ref.parse_str(text, data_type)
    theirs = {tuple(tuple(a - 1 for a in g) for g in o): ref.multiplicity[o] for o in ref.orders}
    ours = {tuple(tuple(sorted(g)) for g in k): v for k, v in _ballots(p).items()}
    assert {tuple(tuple(sorted(g)) for g in k): v for k, v in theirs.items()} == ours
    # ... and we read what it writes
    ref.write(str(tmp_path / "ref"))
    again = sc.read_preflib(tmp_path / f"ref.{data_type}")
    assert _ballots(again.profile) == _ballots(p)


def test_inferred_type_and_old_format():
    p = sc.Profile.from_ballots([[1, (0, 2)], [2]], 3, counts=[2, 1])
    assert "# DATA TYPE: toi" in sc.write_preflib(p)
    old = sc.read_preflib(OLD_FORMAT)
    assert old.alternative_names == ("a", "b", "c")
    assert old.profile.ranks.tolist() == [[0, 1, 1], [1, 3, 0]]
    assert old.profile.counts.tolist() == [3, 2]


@pytest.mark.parametrize("text, line, match", [
    ("# NUMBER ALTERNATIVES: 3\n2: 2,4\n", 2, "alternative 4 is outside 1..3"),
    ("# NUMBER ALTERNATIVES: 3\n2: 2,2\n", 2, "appears twice"),
    ("# NUMBER ALTERNATIVES: 3\n2 2,1\n", 2, "count: order"),
    ("# NUMBER ALTERNATIVES: 3\n0: 2,1\n", 2, "positive integer"),
    ("# NUMBER ALTERNATIVES: 3\n1: 1\nx: 2,1\n", 3, "positive integer"),
    ("# NUMBER ALTERNATIVES: 3\n1: 2,a\n", 2, "alternatives"),
    ("# NUMBER ALTERNATIVES: 3\n1: {2,1\n", 2, "groups"),
    ("# DATA TYPE: soc\n# NUMBER ALTERNATIVES: 3\n1: 1,2,3\n1: 2,1\n", 4, "complete orders"),
    ("# DATA TYPE: soi\n# NUMBER ALTERNATIVES: 3\n1: {1,2}\n", 3, "strict orders"),
    ("# DATA TYPE: xyz\n# NUMBER ALTERNATIVES: 3\n", 1, "DATA TYPE"),
    ("# NUMBER ALTERNATIVES: three\n", 1, "integer"),
    ("# NUMBER VOTERS: 5\n1: 1\n", 2, "NUMBER ALTERNATIVES"),
    ("# NUMBER ALTERNATIVES: 2\n# NUMBER VOTERS: 5\n1: 1,2\n", 2, "declares NUMBER VOTERS 5"),
    ("# NUMBER ALTERNATIVES: 2\n1: 1,2\n# late: header\n", 3, "header line after"),
    ("# NUMBER ALTERNATIVES\n", 1, "KEY: value"),
    ("3\n1,a\n2,b\n3,c\n5,5,2\n3,1,4\n", 6, "outside 1..3"),
    ("3\n1,a\n2,b\n", 3, "index,name"),
])
def test_malformed_files_name_the_line(text, line, match):
    with pytest.raises(ValueError, match=rf"^line {line}: .*{match}"):
        sc.read_preflib(text)


def test_write_errors():
    with pytest.raises(ValueError, match="integer counts"):
        sc.write_preflib(sc.Profile.from_orders([[0, 1]], counts=[0.5]))
    with pytest.raises(ValueError, match="batch shape"):
        sc.write_preflib(sc.Profile.from_orders([[[0, 1]], [[1, 0]]]))
    with pytest.raises(ValueError, match="strict orders"):
        sc.write_preflib(sc.Profile([[0, 0]]), data_type="soc")
    with pytest.raises(TypeError, match="Profile"):
        sc.write_preflib([[0, 1]])
    with pytest.raises(TypeError, match="source"):
        sc.read_preflib(3)
