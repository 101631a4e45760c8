r"""Gambit's file formats: ``.nfg`` (strategic games) and ``.efg`` (extensive games).

Readers and writers for the two text formats of Gambit (McKelvey, McLennan and Turocy), the
formats of Gambit's game catalog and of many papers' supplementary files:

* ``.nfg``, both versions: the *payoff* version (a flat list of payoffs, every player's payoff
  for each pure-strategy profile in turn, the first player's strategy varying fastest) and the
  *outcome* version (a list of outcomes ``{ "name" u_1, ..., u_n }`` followed by one outcome
  number per profile, 0 for the null outcome that pays nothing). Strategies are given as counts
  ``{ 3 2 }`` or as name lists ``{ { "T" "B" } { "L" "R" } }``.
* ``.efg``: nodes in prefix (depth-first) order, ``c`` chance nodes with their outcome
  probabilities (rationals such as ``1/3`` or decimals), ``p`` personal nodes ``p "name"
  player infoset ...`` (nodes sharing a player's information-set number form one information
  set; its action names need only be given the first time) and ``t`` terminal nodes. An outcome
  may be attached to any node; a leaf's payoff is the sum of the outcomes on its path, as in
  Gambit.

Numbers are read exactly (:class:`fractions.Fraction`: integers, decimals, ``p/q`` and
exponents) and converted to the default float dtype. Malformed input raises a ``ValueError``
naming the line. Games are written in the subset that every reader accepts (OpenSpiel's
``efg_game`` included): action lists on every node, payoffs on every leaf, no outcomes on inner
nodes; floats are written as the shortest fraction ``p/q`` (``q <= 10^6``) that is the same
float, else in positional decimal notation, so a written game reads back to the same floats.

References: The Gambit Project, "Game representation formats" (gambitproject.readthedocs.io,
file formats ``.nfg``/``.efg``); R. D. McKelvey, A. M. McLennan and T. L. Turocy, "Gambit:
Software Tools for Game Theory", 2016.

Example:
  >>> from socialign import solvers
  >>> text = '''NFG 1 R "Matching pennies" { "Row" "Column" } { 2 2 }
  ... 1 -1 -1 1 -1 1 1 -1'''
  >>> g = solvers.NormalFormGame.from_gambit(text)
  >>> g.payoffs[0].tolist()
  [[1.0, -1.0], [-1.0, 1.0]]
"""

from __future__ import annotations

import math
import os
import re
from fractions import Fraction

import jax.numpy as jnp
import numpy as np

__all__ = ["efg_from_gambit", "efg_to_gambit", "nfg_from_gambit", "nfg_to_gambit"]


_INTEGER = re.compile(r"-?[0-9]+")


# -- tokens ----------------------------------------------------------------------------------------
class _Tokens:
    """Tokens of a Gambit file: quoted strings, ``{``, ``}`` and bare words, with line numbers.

    Commas are separators (Gambit writes them between payoffs); ``\"`` escapes a quote.
    """

    def __init__(self, text: str, what: str):
        self.what = what
        self.items: list[tuple[str, str, int]] = []  # (kind, value, line)
        i, line, n = 0, 1, len(text)
        while i < n:
            c = text[i]
            if c == "\n":
                line += 1
                i += 1
            elif c.isspace() or c == ",":
                i += 1
            elif c in "{}":
                self.items.append((c, c, line))
                i += 1
            elif c == '"':
                start_line, j, buf = line, i + 1, []
                while j < n and text[j] != '"':
                    if text[j] == "\\" and j + 1 < n:
                        j += 1
                    if text[j] == "\n":
                        line += 1
                    buf.append(text[j])
                    j += 1
                if j >= n:
                    raise ValueError(f"{what}: line {start_line}: unterminated quoted string")
                self.items.append(("str", "".join(buf), start_line))
                i = j + 1
            else:
                j = i
                while j < n and not (text[j].isspace() or text[j] in '{}",'):
                    j += 1
                self.items.append(("word", text[i:j], line))
                i = j
        self.pos = 0

    def line(self) -> int:
        if self.pos < len(self.items):
            return self.items[self.pos][2]
        return self.items[-1][2] if self.items else 1

    def error(self, msg: str):
        return ValueError(f"{self.what}: line {self.line()}: {msg}")

    def peek(self):
        return self.items[self.pos] if self.pos < len(self.items) else ("eof", "", self.line())

    def at_end(self) -> bool:
        return self.pos >= len(self.items)

    def take(self, kind: str, what: str) -> str:
        tok = self.peek()
        if tok[0] != kind:
            got = "the end of the file" if tok[0] == "eof" else repr(tok[1])
            raise self.error(f"expected {what}, got {got}")
        self.pos += 1
        return tok[1]

    def maybe(self, kind: str):
        if self.peek()[0] == kind:
            self.pos += 1
            return self.items[self.pos - 1][1]
        return None

    def number(self, what: str) -> Fraction:
        line = self.line()
        word = self.take("word", what)
        try:
            if "_" in word:  # Python's Fraction reads 1_000; Gambit does not
                raise ValueError
            value = Fraction(word)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{self.what}: line {line}: {what} must be a number (an integer, "
                             f"a decimal or p/q), got {word!r}") from None
        try:
            float(value)
        except OverflowError:
            raise ValueError(f"{self.what}: line {line}: {what} {word!r} is too large for a "
                             "float") from None
        return value

    def integer(self, what: str, minimum: int = 0) -> int:
        line = self.line()
        word = self.take("word", what)
        if not _INTEGER.fullmatch(word) or int(word) < minimum:
            raise ValueError(f"{self.what}: line {line}: {what} must be an integer >= {minimum}, "
                             f"got {word!r}")
        return int(word)

    def strings(self, what: str) -> list[str]:
        """A braced list of quoted strings ``{ "a" "b" }``."""
        self.take("{", f"'{{' opening the {what}")
        out = []
        while self.maybe("}") is None:
            out.append(self.take("str", f"a quoted name in the {what} or '}}'"))
        return out


def _decode(data: bytes, what: str) -> str:
    """UTF-8 text (a byte-order mark dropped), or a ValueError naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValueError(f"{what}: line {line}: not UTF-8 text (byte {data[e.start]:#x}); "
                         "save the file as UTF-8") from None


def _read_source(source, magic: str, what: str = "source") -> str:
    """Text of a Gambit file given as text, a path, a path-like or bytes."""
    if isinstance(source, bytes | bytearray):
        source = _decode(bytes(source), what)
    if isinstance(source, os.PathLike):
        with open(source, "rb") as f:
            return _decode(f.read(), what)
    if not isinstance(source, str):
        raise TypeError(f"{what} must be the text of a .{magic.lower()} file or a path to one, "
                        f"got {type(source).__name__}")
    source = source.removeprefix("\ufeff")
    if source.lstrip().startswith(magic):
        return source
    if "\n" not in source and os.path.isfile(source):
        with open(source, "rb") as f:
            return _decode(f.read(), what)
    raise ValueError(f"{what}: neither the text of a Gambit .{magic.lower()} file (it starts "
                     f"with {magic!r}) nor the path of an existing file: {source[:60]!r}")


def _header(tok: _Tokens, magic: str, version: str):
    line = tok.line()
    word = tok.take("word", f"the magic word {magic!r}")
    if word != magic:
        raise ValueError(f"{tok.what}: line {line}: a Gambit .{magic.lower()} file starts with "
                         f"{magic!r}, got {word!r}")
    line = tok.line()
    ver = tok.take("word", "the format version")
    if ver != version:
        raise ValueError(f"{tok.what}: line {line}: unsupported .{magic.lower()} format version "
                         f"{ver!r} (expected {version!r})")
    line = tok.line()
    kind = tok.take("word", "'R' (rational) or 'D' (decimal)")
    if kind not in ("R", "D"):
        raise ValueError(f"{tok.what}: line {line}: expected 'R' or 'D' after the version, got "
                         f"{kind!r}")
    title = tok.take("str", "the quoted title")
    players = tok.strings("list of player names")
    if not players:
        raise tok.error("the game has no players")
    return title, players


# -- .nfg ------------------------------------------------------------------------------------------
def nfg_from_gambit(source):
    """Read a Gambit ``.nfg`` file (payoff or outcome version) into a :class:`NormalFormGame`.

    Args:
      source: the file's text, its path (``str`` or path-like) or its bytes.

    Returns:
      A :class:`NormalFormGame` ``[n, A_1, ..., A_n]`` in the default float dtype.

    Raises:
      TypeError: if ``source`` is not text, bytes or a path.
      ValueError: naming the line, if the file is malformed (bad header, wrong number of
        payoffs, an undefined outcome, a number that does not parse, ...).

    Example:
      >>> from socialign.solvers._gambit import nfg_from_gambit
      >>> text = '''NFG 1 R "Prisoner's dilemma" { "1" "2" }
      ... { { "C" "D" } { "C" "D" } } ""
      ... { { "CC" 3, 3 } { "DC" 5, 0 } { "CD" 0, 5 } { "DD" 1, 1 } }
      ... 1 2 3 4'''
      >>> nfg_from_gambit(text).payoffs[1].tolist()
      [[3.0, 5.0], [0.0, 1.0]]
    """
    from ._game import NormalFormGame

    tok = _Tokens(_read_source(source, "NFG"), "source")
    _, players = _header(tok, "NFG", "1")
    n = len(players)
    tok.take("{", "'{' opening the strategy counts or names")
    sizes = []
    if tok.peek()[0] == "{":
        for p in range(n):
            names = tok.strings(f"strategy names of player {p + 1}")
            sizes.append(len(names))
        tok.take("}", "'}' closing the strategy names")
    else:
        for p in range(n):
            sizes.append(tok.integer(f"the number of strategies of player {p + 1}", 1))
        tok.take("}", "'}' closing the strategy counts")
    if len(sizes) != n or any(s < 1 for s in sizes):
        raise tok.error(f"every one of the {n} players needs at least one strategy")
    tok.maybe("str")  # the optional comment
    profiles = math.prod(sizes)
    payoffs = np.zeros((profiles, n))
    if tok.peek()[0] == "{":  # outcome version
        tok.take("{", "'{' opening the outcome list")
        outcomes = [[Fraction(0)] * n]
        while tok.maybe("}") is None:
            tok.take("{", "'{' opening an outcome")
            tok.take("str", "the quoted name of an outcome")
            pays = []
            while tok.maybe("}") is None:
                pays.append(tok.number(f"a payoff of outcome {len(outcomes)}"))
            if len(pays) != n:
                raise tok.error(f"outcome {len(outcomes)} has {len(pays)} payoffs for {n} players")
            outcomes.append(pays)
        for k in range(profiles):
            line = tok.line()
            if tok.at_end():
                raise tok.error(f"the file ends after {k} of the {profiles} outcome numbers of "
                                "the strategy profiles")
            o = tok.integer("an outcome number")
            if o >= len(outcomes):
                raise ValueError(f"source: line {line}: outcome {o} is not defined (the file "
                                 f"lists {len(outcomes) - 1} outcomes)")
            payoffs[k] = [float(v) for v in outcomes[o]]
    else:  # payoff version
        for k in range(profiles * n):
            if tok.at_end():
                raise tok.error(f"the file has {k} payoffs; {n} players and {profiles} profiles "
                                f"need {profiles * n}")
            payoffs[k // n, k % n] = float(tok.number("a payoff"))
    if not tok.at_end():
        raise tok.error(f"unexpected {tok.peek()[1]!r} after the last payoff")
    # profile k has the first player's strategy varying fastest: Fortran order
    tensor = payoffs.T.reshape((n, *sizes), order="F")
    return NormalFormGame(jnp.asarray(tensor, jnp.result_type(float)), n)


def _fmt(x: float) -> str:
    """Shortest exact text for a float: an integer, a fraction p/q (q <= 1e6) or a decimal."""
    x = float(x)
    if x == int(x) and abs(x) < 2**53:
        return str(int(x))
    if abs(x) >= 2**53 or abs(x) < 1e-6:
        return repr(x)  # 1e+300, 1e-300: exact, and read by Gambit (not 301 digits)
    f = Fraction(x).limit_denominator(10**6)
    if float(f) == x:
        return f"{f.numerator}/{f.denominator}"
    return np.format_float_positional(x, unique=True, trim="-")


def _exact_probs(p) -> list[str]:
    """Texts of chance probabilities whose exact sum is 1, as Gambit requires: each as
    :func:`_fmt` writes it, the largest as one minus the others (a fraction) when the texts'
    exact sum is not 1 (floats that sum to 1.0 in floating point rarely do exactly)."""
    texts = [_fmt(q) for q in p]
    if sum(Fraction(t) for t in texts) != 1:
        j = int(np.argmax(p))
        rest = 1 - sum(Fraction(t) for i, t in enumerate(texts) if i != j)
        texts[j] = f"{rest.numerator}/{rest.denominator}"
    return texts


def _quote(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def nfg_to_gambit(game, *, title: str = "socialign game", outcomes: bool = False) -> str:
    """Write a :class:`NormalFormGame` as Gambit ``.nfg`` text.

    Args:
      game: an unbatched :class:`NormalFormGame`.
      title: the game's title.
      outcomes: write the outcome version (one named outcome per profile and strategy names)
        instead of the payoff version.

    Returns:
      The file's text (``str``); :func:`nfg_from_gambit` reads it back to the same game.

    Raises:
      TypeError: if ``game`` is not a :class:`NormalFormGame`.
      ValueError: if it is batched.

    Example:
      >>> from socialign import solvers
      >>> g = solvers.NormalFormGame.from_bimatrix([[3, 0], [5, 1]], [[3, 5], [0, 1]])
      >>> print(g.to_gambit(title="PD"))
      NFG 1 R "PD" { "Player 1" "Player 2" } { 2 2 }
      <BLANKLINE>
      3 3 5 0 0 5 1 1
      <BLANKLINE>
    """
    from ._game import NormalFormGame

    if not isinstance(game, NormalFormGame):
        raise TypeError(f"game must be a NormalFormGame, got {type(game).__name__}")
    if game.batch_shape:
        raise ValueError(f"game is batched (batch shape {game.batch_shape}); write one game "
                         "at a time (index the batch)")
    n, sizes = game.num_players, game.num_actions
    pays = np.asarray(game.payoffs, np.float64).reshape(n, -1, order="F").T  # [profiles, n]
    players = " ".join(_quote(f"Player {p + 1}") for p in range(n))
    if not outcomes:
        body = " ".join(_fmt(v) for v in pays.ravel())
        return f"NFG 1 R {_quote(title)} {{ {players} }} {{ {' '.join(map(str, sizes))} }}\n\n" \
            f"{body}\n"
    strat = "\n".join("{ " + " ".join(_quote(str(s + 1)) for s in range(k)) + " }"
                      for k in sizes)
    outs = "\n".join(f"{{ {_quote(str(k + 1))} {', '.join(_fmt(v) for v in row)} }}"
                     for k, row in enumerate(pays))
    order = " ".join(str(k + 1) for k in range(len(pays)))
    return (f"NFG 1 R {_quote(title)} {{ {players} }}\n\n{{ {strat}\n}}\n\"\"\n\n"
            f"{{\n{outs}\n}}\n{order}\n")


# -- .efg ------------------------------------------------------------------------------------------
def efg_from_gambit(source):
    """Read a Gambit ``.efg`` file into an :class:`ExtensiveFormGame`.

    Chance probabilities are read exactly (``1/3``) and must sum to 1 at each chance node
    (within 1e-9, so that OpenSpiel's exporter's ``0.3333333333333333`` reads: they are then
    normalised to sum to 1; Gambit itself wants an exact sum, which :func:`efg_to_gambit`
    writes); a chance information set used at several nodes has the same actions and
    probabilities at each; nodes of one player with the same information-set number form one
    information set (its actions are named at its first node; a later node may repeat the
    same names);
    outcomes may sit on any node, a leaf's payoffs being the sum over its path. The game must
    have perfect recall (as every solver here needs). Names (title, players, information sets,
    actions, outcomes) are kept on the compiled tree, so :func:`efg_to_gambit` writes them back.

    Args:
      source: the file's text, its path (``str`` or path-like) or its bytes.

    Returns:
      An :class:`ExtensiveFormGame` in the default float dtype; its ``infoset_keys`` are
      ``"<player>:<infoset number>:<infoset name>"`` (player 1-based as in the file).

    Raises:
      TypeError: if ``source`` is not text, bytes or a path.
      ValueError: naming the line, if the file is malformed (unknown node type, a chance node
        whose probabilities do not sum to 1, an outcome used before its payoffs are given, a
        player number out of range, an information set whose nodes differ in their number of
        actions, a truncated tree, ...), or if the game lacks perfect recall.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign.solvers._gambit import efg_from_gambit
      >>> text = '''EFG 2 R "Coin" { "Guesser" }
      ... c "" 1 "" { "H" 1/2 "T" 1/2 } 0
      ... p "" 1 1 "" { "h" "t" } 0
      ... t "" 1 "win" { 1 }
      ... t "" 2 "lose" { 0 }
      ... p "" 1 1 "" { "h" "t" } 0
      ... t "" 2
      ... t "" 1'''
      >>> g = efg_from_gambit(text)
      >>> g.num_infosets, g.num_terminals, g.chance_probs.tolist()
      (1, 4, [[0.5, 0.5]])
    """
    from ._efg import CHANCE, TERMINAL, ExtensiveFormGame, _compile

    tok = _Tokens(_read_source(source, "EFG"), "source")
    title, players = _header(tok, "EFG", "2")
    n = len(players)
    tok.maybe("str")  # the optional comment
    parent, kind, infoset, col, eprob, util = [], [], [], [], [], []
    node_names, node_line = [], []
    outcomes: dict[int, tuple[str, list[Fraction]]] = {}
    outcome_of_node: list[int] = []
    infosets: dict[tuple[int, int], int] = {}  # (player 0-based, number) -> global id
    infoset_info: list[dict] = []  # per global id: player, number, name, actions
    chance_sets: dict[int, tuple[list[str], list[Fraction]]] = {}
    chance_actions: dict[int, list[str]] = {}  # node -> chance action names
    chance_probs_of: dict[int, list[Fraction]] = {}  # node -> chance probabilities
    stack: list[list[int]] = []  # [node, children still to read]

    def read_outcome(h):
        line = tok.line()
        o = tok.integer("an outcome number")
        name = tok.maybe("str")
        pays = None
        if tok.peek()[0] == "{":
            tok.take("{", "'{'")
            pays = []
            while tok.maybe("}") is None:
                pays.append(tok.number("a payoff"))
            if len(pays) != n:
                raise ValueError(f"source: line {line}: outcome {o} has {len(pays)} payoffs for "
                                 f"{n} players")
        if o == 0:
            if pays is not None and any(pays):
                raise ValueError(f"source: line {line}: outcome 0 is the null outcome; it "
                                 "cannot have payoffs")
            return [Fraction(0)] * n, 0
        if pays is None:
            if o not in outcomes:
                raise ValueError(f"source: line {line}: outcome {o} is used before its payoffs "
                                 "are given")
            pays = outcomes[o][1]
        elif o in outcomes and outcomes[o][1] != pays:
            raise ValueError(f"source: line {line}: outcome {o} is given two different payoff "
                             f"vectors ({outcomes[o][1]} and {pays})")
        outcomes.setdefault(o, (name or "", pays))
        return pays, o

    while True:
        if stack and stack[-1][1] == 0:
            stack.pop()
            continue
        if not stack and parent:
            break
        line = tok.line()
        if tok.at_end():
            raise ValueError(f"source: line {line}: the file ends inside the tree (node "
                             f"{stack[-1][0] if stack else 0} still misses children)")
        word = tok.take("word", "a node ('c', 'p' or 't')")
        h = len(parent)
        if stack:
            p = stack[-1][0]
            k_total = len(infoset_info[infoset[p]]["actions"]) if kind[p] >= 0 else \
                len(chance_actions[p])
            parent.append(p)
            col.append(k_total - stack[-1][1])
            eprob.append(float(chance_probs_of[p][col[-1]]) if kind[p] == CHANCE else 0.0)
            stack[-1][1] -= 1
        else:
            parent.append(-1)
            col.append(0)
            eprob.append(0.0)
        node_line.append(line)
        node_names.append(tok.take("str", "the quoted node name"))
        base = util[parent[-1]] if parent[-1] >= 0 else [Fraction(0)] * n
        if word == "t":
            kind.append(TERMINAL)
            infoset.append(-1)
            pays, o = read_outcome(h)
            outcome_of_node.append(o)
            util.append([a + b for a, b in zip(base, pays)])
            continue
        if word == "c":
            num = tok.integer("the chance information-set number", 1)
            tok.maybe("str")
            if tok.peek()[0] == "{":
                tok.take("{", "'{'")
                names, probs = [], []
                while tok.maybe("}") is None:
                    names.append(tok.take("str", "a quoted chance action name or '}'"))
                    probs.append(tok.number("a chance probability"))
                if not names:
                    raise ValueError(f"source: line {line}: a chance node needs at least one "
                                     "action")
                # Gambit wants an exact sum of 1; OpenSpiel's exporter writes 1/3 as
                # 0.3333333333333333, so a sum within 1e-9 of 1 is read, and normalised to 1
                if any(q < 0 for q in probs) or abs(float(sum(probs)) - 1) > 1e-9:
                    raise ValueError(f"source: line {line}: the chance probabilities "
                                     f"{[str(q) for q in probs]} must be non-negative and "
                                     f"sum to 1 (they sum to {float(sum(probs))!r})")
                probs = [q / sum(probs) for q in probs]
                if num in chance_sets and len(chance_sets[num][0]) != len(names):
                    raise ValueError(f"source: line {line}: chance information set {num} has "
                                     f"{len(chance_sets[num][0])} actions elsewhere but "
                                     f"{len(names)} here")
                if num in chance_sets and chance_sets[num] != (names, probs):
                    raise ValueError(f"source: line {line}: chance information set {num} is "
                                     "defined again with other action names or probabilities "
                                     f"({chance_sets[num][0]} {[str(q) for q in chance_sets[num][1]]}"
                                     f" elsewhere)")
                chance_sets.setdefault(num, (names, probs))
            elif num not in chance_sets:
                raise ValueError(f"source: line {line}: chance information set {num} is used "
                                 "before its actions and probabilities are given")
            else:
                names, probs = chance_sets[num]
            kind.append(CHANCE)
            infoset.append(-1)
            chance_actions[h] = names
            chance_probs_of[h] = probs
            k = len(names)
        elif word == "p":
            pl = tok.integer("the player number", 1)
            if pl > n:
                raise ValueError(f"source: line {line}: player {pl} does not exist (the game "
                                 f"has {n} players)")
            num = tok.integer("the information-set number", 1)
            name = tok.maybe("str")
            actions = tok.strings("action names") if tok.peek()[0] == "{" else None
            key = (pl - 1, num)
            s = infosets.get(key)
            if s is None:
                if actions is None:
                    raise ValueError(f"source: line {line}: information set {num} of player "
                                     f"{pl} is used before its actions are named")
                if not actions:
                    raise ValueError(f"source: line {line}: a personal node needs at least one "
                                     "action")
                s = infosets[key] = len(infoset_info)
                infoset_info.append(dict(player=pl - 1, number=num, name=name or "",
                                         actions=actions))
            elif actions is not None and len(actions) != len(infoset_info[s]["actions"]):
                raise ValueError(f"source: line {line}: information set {num} of player {pl} "
                                 f"has {len(infoset_info[s]['actions'])} actions elsewhere but "
                                 f"{len(actions)} here")
            elif actions is not None and actions != infoset_info[s]["actions"]:
                raise ValueError(f"source: line {line}: information set {num} of player {pl} "
                                 f"names its actions {infoset_info[s]['actions']} elsewhere but "
                                 f"{actions} here")
            kind.append(pl - 1)
            infoset.append(s)
            k = len(infoset_info[s]["actions"])
        else:
            raise ValueError(f"source: line {line}: unknown node type {word!r} (expected 'c', "
                             "'p' or 't')")
        pays, o = read_outcome(h)
        outcome_of_node.append(o)
        util.append([a + b for a, b in zip(base, pays)])
        stack.append([h, k])
    if not tok.at_end():
        raise tok.error(f"unexpected {tok.peek()[1]!r} after the last node of the tree")
    if not infoset_info:
        raise ValueError("source: the game has no personal (decision) nodes")
    H = len(parent)
    keys = tuple(f"{d['player'] + 1}:{d['number']}:{d['name']}" for d in infoset_info)
    meta = dict(title=title, players=tuple(players), node_names=tuple(node_names),
                infosets=tuple((d["player"], d["number"], d["name"], tuple(d["actions"]))
                               for d in infoset_info),
                chance_actions={h: tuple(v) for h, v in chance_actions.items()},
                outcome_names={o: v[0] for o, v in outcomes.items()})
    try:
        tree, u, chance = _compile(
            np.asarray(parent, np.int64), np.asarray(kind, np.int64),
            np.asarray(infoset, np.int64), np.asarray(col, np.int64), np.asarray(eprob),
            np.asarray([[float(v) for v in row] for row in util], np.float64).reshape(H, n), n,
            infoset_keys=keys, private={"_gambit": meta})
    except ValueError as e:
        raise ValueError(f"source: {e}") from None
    dtype = jnp.result_type(float)
    return ExtensiveFormGame(jnp.asarray(u, dtype), jnp.asarray(chance, dtype), tree)


def efg_to_gambit(game, *, title: str | None = None) -> str:
    """Write an :class:`ExtensiveFormGame` as Gambit ``.efg`` text.

    Every node is written with its action list and every leaf with its own outcome and payoffs
    (the subset of the format that Gambit and OpenSpiel's ``efg_game`` both read). Names come
    from the file a game was read from; otherwise players are ``Player k``, information sets
    are named by ``infoset_keys`` and actions ``a0, a1, ...`` (chance outcomes ``c0, ...``).

    Args:
      game: an unbatched :class:`ExtensiveFormGame`.
      title: the game's title (default: the title read from a file, else ``socialign game``).

    Returns:
      The file's text (``str``); :func:`efg_from_gambit` reads it back to the same game.

    Raises:
      TypeError: if ``game`` is not an :class:`ExtensiveFormGame`.
      ValueError: if it is batched.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> T = solvers.ExtensiveFormGame.TERMINAL
      >>> g = solvers.ExtensiveFormGame.from_arrays(
      ...     parent=[-1, 0, 0, 2, 2], player=[0, T, 1, T, T],
      ...     utilities=[[0, 0], [0, 2], [0, 0], [-1, -1], [1, 1]])
      >>> print(g.to_gambit(title="Entry"))
      EFG 2 R "Entry" { "Player 1" "Player 2" }
      ""
      <BLANKLINE>
      p "" 1 1 "0" { "a0" "a1" } 0
      t "" 1 "" { 0, 2 }
      p "" 2 1 "1" { "a0" "a1" } 0
      t "" 2 "" { -1, -1 }
      t "" 3 "" { 1, 1 }
      <BLANKLINE>
    """
    from ._efg import CHANCE, TERMINAL, ExtensiveFormGame

    if not isinstance(game, ExtensiveFormGame):
        raise TypeError(f"game must be an ExtensiveFormGame, got {type(game).__name__}")
    if game.batch_shape:
        raise ValueError(f"game is batched (batch shape {game.batch_shape}); write one game "
                         "at a time (index the batch)")
    tree = game.tree
    meta = tree.__dict__.get("_gambit")
    n = tree.num_players
    if title is None:
        title = meta["title"] if meta else "socialign game"
    players = meta["players"] if meta else tuple(f"Player {p + 1}" for p in range(n))
    util = np.asarray(game.utilities, np.float64)
    probs = np.asarray(game.chance_probs, np.float64)
    kind, row, children = tree.node_kind, tree.node_row, tree.node_children
    # information-set numbers per player, in order of first appearance in prefix order
    numbers: dict[int, int] = {}
    count = [0] * n
    chance_count = 0
    lines = [f"EFG 2 R {_quote(title)} {{ {' '.join(_quote(p) for p in players)} }}", '""', ""]
    outcome = 0
    todo = [(int(tree.root), 0)]
    while todo:
        h, depth = todo.pop()
        k = int(kind[h])
        name = _quote(meta["node_names"][h]) if meta and h < len(meta["node_names"]) else '""'
        if k == TERMINAL:
            outcome += 1
            pays = ", ".join(_fmt(v) for v in util[row[h]])
            lines.append(f"t {name} {outcome} \"\" {{ {pays} }}")
            continue
        kids = [int(c) for c in children[h] if c != h]
        if k == CHANCE:
            chance_count += 1
            if meta and h in meta["chance_actions"]:
                acts = meta["chance_actions"][h]
            else:
                acts = [f"c{j}" for j in range(len(kids))]
            body = " ".join(f"{_quote(a)} {q}"
                            for a, q in zip(acts, _exact_probs(probs[row[h]][:len(kids)])))
            lines.append(f"c {name} {chance_count} \"\" {{ {body} }} 0")
        else:
            s = int(row[h])
            if s not in numbers:
                count[k] += 1
                numbers[s] = count[k]
            if meta:
                iname, acts = meta["infosets"][s][2], meta["infosets"][s][3]
            else:
                iname = str(tree.infoset_keys[s]).replace("\n", " ")
                acts = [f"a{j}" for j in range(int(tree.infoset_num_actions[s]))]
            body = " ".join(_quote(a) for a in acts)
            lines.append(f"p {name} {k + 1} {numbers[s]} {_quote(iname)} {{ {body} }} 0")
        todo.extend((c, depth + 1) for c in reversed(kids))
    return "\n".join(lines) + "\n"
