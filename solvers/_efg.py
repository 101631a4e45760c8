"""Extensive-form games compiled once into dense arrays: :class:`ExtensiveFormGame`.

A finite game tree with chance nodes, imperfect information and perfect recall is walked once on
the host and compiled into index arrays that make every CFR pass a handful of fused array ops:

* every terminal history ``z`` stores its path from the root as indices into one flat table
  ``[policy.ravel(), chance_probs.ravel(), 1]``: the chance edges ``chance_edge[d, z]`` (padded
  with the final 1) and the decision edges in a ragged, depth-major layout (terminals sorted by
  path length, so depth ``d`` covers the first ``dec_count[d]`` terminals contiguously) with the
  acting player of each edge. The reach probability of ``z`` is the product of its edges;
  counterfactual reach, tail probabilities and counterfactual action values follow from
  prefix/suffix products along the path and one sorted ``segment_sum`` into the
  ``[infosets * actions]`` table;
* every information set stores its parent sequence (the player's own previous infoset and action)
  and its level in the player's sequence tree, so a best response is one bottom-up sweep over
  levels (deepest first) with a max over actions per infoset;
* node-level child tables serve Monte Carlo sampling.

The tree structure is static (hashable, part of the pytree's auxiliary data); the terminal
utilities ``[*batch, Z, players]`` and chance probabilities ``[*batch, C, A]`` are leaves, so games
sharing a tree (a contract swept over a payment) are solved as one ``vmap``-ed batch.

A behavioural policy is an array ``[*batch, num_infosets, max_actions]``: row ``I`` is the
distribution over the legal actions of information set ``I`` (columns ``0..k_I-1``; illegal columns
hold 0). OpenSpiel policies convert both ways (:meth:`ExtensiveFormGame.to_openspiel_policy`,
:meth:`ExtensiveFormGame.policy_from_openspiel`).

Example:
  >>> import jax; jax.config.update("jax_enable_x64", True)
  >>> from socialign import solvers
  >>> kuhn = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
  >>> kuhn.num_infosets, kuhn.num_histories
  (12, 58)
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..kernel import as_float_array, check_finite, check_positive_int, is_concrete

__all__ = ["ExtensiveFormGame", "CHANCE", "TERMINAL"]

#: ``player`` code of a chance node in :meth:`ExtensiveFormGame.from_arrays`
CHANCE = -1
#: ``player`` code of a terminal node in :meth:`ExtensiveFormGame.from_arrays`
TERMINAL = -2


class _Tree:
    """Static, hashable structure of a compiled game tree (numpy arrays; hashed by content).

    Immutable: its arrays are read-only and attributes cannot be set after construction (it is
    a key of the jit cache and of :func:`functools.lru_cache`-d tables). Fields whose names start
    with ``_`` (the OpenSpiel game a tree came from) are not hashed.
    """

    def __init__(self, **fields):
        for name, val in fields.items():
            if isinstance(val, np.ndarray):
                val.setflags(write=False)
            elif isinstance(val, tuple) and not name.startswith("_"):
                for arr in val:
                    if isinstance(arr, np.ndarray):
                        arr.setflags(write=False)
        h = hashlib.sha1()
        for name in sorted(fields):
            if name.startswith("_"):
                continue
            val = fields[name]
            h.update(name.encode())
            for arr in _flatten_arrays(val):
                h.update(str(arr.shape).encode() + str(arr.dtype).encode())
                h.update(np.ascontiguousarray(arr).tobytes())
        self.__dict__.update(fields)
        self.__dict__["digest"] = h.hexdigest()

    def __setattr__(self, name, value):
        raise AttributeError(f"a compiled game tree is immutable (cannot set {name!r})")

    def __delattr__(self, name):
        raise AttributeError(f"a compiled game tree is immutable (cannot delete {name!r})")

    def __hash__(self):
        return hash(self.digest)

    def __eq__(self, other):
        return isinstance(other, _Tree) and other.digest == self.digest

    def __repr__(self):
        return (f"_Tree(players={self.num_players}, infosets={self.num_infosets}, "
                f"histories={self.num_histories}, terminals={self.num_terminals})")


def _flatten_arrays(val):
    if isinstance(val, np.ndarray):
        return [val]
    if isinstance(val, tuple | list):
        if all(isinstance(v, str) for v in val):
            return [np.frombuffer("\x00".join(val).encode(), dtype=np.uint8)]
        out = []
        for v in val:
            out.extend(_flatten_arrays(v))
        return out
    if isinstance(val, str):
        return [np.frombuffer(val.encode(), dtype=np.uint8)]
    return [np.asarray(val)]


def _compile(parent, kind, infoset, col, edge_prob, node_util, num_players, *,
             infoset_keys=None, infoset_action_ids=None, private=None):
    """Compile node arrays into a :class:`_Tree` plus the leaf arrays (utilities, chance probs).

    Args (numpy, one entry per node): ``parent`` (-1 at the root), ``kind`` (player >= 0,
    ``CHANCE`` or ``TERMINAL``), ``infoset`` (0..I-1 at decision nodes), ``col`` (the action
    column taken at the parent), ``edge_prob`` (probability of the edge from a chance parent),
    ``node_util`` [H, n] (used at terminals).
    """
    H = len(parent)
    n = num_players
    roots = np.flatnonzero(parent == -1)
    if len(roots) != 1:
        raise ValueError(f"parent must mark exactly one root with -1; found {len(roots)}")
    root = int(roots[0])
    if np.any((parent < -1) | (parent >= H)):
        raise ValueError("parent holds indices outside [-1, num_nodes)")
    children = [[] for _ in range(H)]
    for h in range(H):
        p = parent[h]
        if p >= 0:
            children[p].append(h)
    # breadth-first order from the root; every node must be reached exactly once
    order = [root]
    depth = np.zeros(H, np.int64)
    for h in order:
        for c in children[h]:
            depth[c] = depth[h] + 1
            order.append(c)
        if len(order) > H:
            break
    if len(order) != H:
        raise ValueError("parent does not describe a tree: some nodes are not reachable from the "
                         "root (a cycle or a second component)")
    if kind[root] == TERMINAL:
        raise ValueError("the root is terminal: the game has no decisions")
    for h in range(H):
        k = kind[h]
        nc = len(children[h])
        if k == TERMINAL:
            if nc:
                raise ValueError(f"node {h} is terminal but has {nc} children")
        elif k == CHANCE or k >= 0:
            if k >= n:
                raise ValueError(f"node {h} has player {k} but num_players = {n}")
            if nc == 0:
                raise ValueError(f"node {h} is a decision or chance node without children; mark "
                                 "leaves with player = TERMINAL (-2)")
            cols = sorted(int(col[c]) for c in children[h])
            if cols != list(range(nc)):
                raise ValueError(f"the children of node {h} must take the actions 0..{nc - 1} "
                                 f"exactly once each; got {cols}")
        else:
            raise ValueError(f"player[{h}] = {k} is not a player index, CHANCE (-1) or "
                             "TERMINAL (-2)")
    dec = np.flatnonzero(kind >= 0)
    I = int(infoset[dec].max()) + 1 if len(dec) else 0
    if I == 0:
        raise ValueError("the game has no decision nodes")
    if np.any(infoset[dec] < 0):
        raise ValueError("infoset must be >= 0 at every decision node")
    if len(np.unique(infoset[dec])) != I:
        raise ValueError("infoset ids must be 0..num_infosets-1 with no gaps")
    infoset_player = np.full(I, -1, np.int64)
    infoset_k = np.zeros(I, np.int64)
    hist_count = np.zeros(I, np.int64)
    for h in dec:
        s = infoset[h]
        if infoset_player[s] == -1:
            infoset_player[s] = kind[h]
            infoset_k[s] = len(children[h])
        elif infoset_player[s] != kind[h] or infoset_k[s] != len(children[h]):
            raise ValueError(f"information set {s} mixes nodes with different players or "
                             "numbers of actions")
        hist_count[s] += 1
    chance_nodes = np.flatnonzero(kind == CHANCE)
    C = len(chance_nodes)
    A = max(len(children[h]) for h in dec)
    Ac = max([len(children[h]) for h in chance_nodes], default=1)
    chance_row = np.full(H, -1, np.int64)
    chance_row[chance_nodes] = np.arange(C)
    chance_probs = np.zeros((C, Ac))
    for c, h in enumerate(chance_nodes):
        for ch in children[h]:
            chance_probs[c, col[ch]] = edge_prob[ch]
    if C:
        if np.any(chance_probs < 0) or not np.all(np.isfinite(chance_probs)):
            raise ValueError("chance probabilities must be finite and non-negative")
        bad = np.abs(chance_probs.sum(1) - 1) > 1e-9
        if np.any(bad):
            raise ValueError(f"the outcome probabilities of chance node "
                             f"{int(chance_nodes[np.argmax(bad)])} do not sum to 1")
    ONE = I * A + C * Ac
    # paths from the root to every terminal, split into decision and chance edges
    term_all = np.flatnonzero(kind == TERMINAL)
    dec_paths, chance_paths = {}, {}
    for z in term_all:
        dec_edges, ch_edges = [], []
        h = z
        while parent[h] >= 0:
            p = parent[h]
            if kind[p] >= 0:
                dec_edges.append((infoset[p] * A + col[h], kind[p]))
            else:
                ch_edges.append(I * A + chance_row[p] * Ac + col[h])
            h = p
        dec_paths[z] = dec_edges[::-1]
        chance_paths[z] = ch_edges[::-1]
    # terminals ordered by decision-path length, longest first: depth d of the (ragged) path
    # table then covers the contiguous prefix of the first n_d terminals
    lengths = np.array([len(dec_paths[z]) for z in term_all])
    terminals = term_all[np.argsort(-lengths, kind="stable")]
    Z = len(terminals)
    utilities = np.asarray(node_util, np.float64)[..., terminals, :]
    Dd = max(1, int(lengths.max()))
    dec_count = tuple(int(np.sum(lengths > d)) for d in range(Dd))
    dec_edge = np.concatenate([[dec_paths[z][d][0] for z in terminals[:dec_count[d]]]
                               for d in range(Dd)]).astype(np.int32)
    dec_player = np.concatenate([[dec_paths[z][d][1] for z in terminals[:dec_count[d]]]
                                 for d in range(Dd)]).astype(np.int8)
    Dc = max([len(chance_paths[z]) for z in terminals] + [1])
    chance_edge = np.full((Dc, Z), ONE, np.int32)
    for k, z in enumerate(terminals):
        for d, e in enumerate(chance_paths[z]):
            chance_edge[d, k] = e
    # own sequences (perfect recall) top-down in BFS order
    ROOTSEQ = I * A
    seq = np.full((H, n), ROOTSEQ, np.int64)
    infoset_parent_seq = np.full(I, -2, np.int64)
    for h in order:
        k = kind[h]
        if k >= 0:
            s = infoset[h]
            if infoset_parent_seq[s] == -2:
                infoset_parent_seq[s] = seq[h, k]
            elif infoset_parent_seq[s] != seq[h, k]:
                raise ValueError(
                    f"the game does not have perfect recall: information set {s} (player {k}) "
                    "is reached after different own action sequences; CFR and best responses "
                    "need perfect recall")
        for c in children[h]:
            seq[c] = seq[h]
            if k >= 0:
                seq[c, k] = infoset[h] * A + col[c]
    last_seq = np.ascontiguousarray(seq[terminals].T.astype(np.int32))  # [n, Z]
    level = np.full(I, -1, np.int64)
    own_paths = [None] * I

    def _level(s):
        if level[s] >= 0:
            return level[s]
        ps = infoset_parent_seq[s]
        if ps == ROOTSEQ:
            level[s] = 0
            own_paths[s] = []
        else:
            level[s] = _level(ps // A) + 1
            own_paths[s] = own_paths[ps // A] + [int(ps)]
        return level[s]

    for s in range(I):
        _level(s)
    Dp = max(1, max(len(p) for p in own_paths))
    own_path = np.full((I, Dp), ONE, np.int32)
    for s, p in enumerate(own_paths):
        own_path[s, : len(p)] = p
    levels = []
    for i in range(n):
        rows = np.flatnonzero(infoset_player == i)
        lv = [rows[level[rows] == k].astype(np.int32) for k in range(int(level[rows].max()) + 1)] \
            if len(rows) else []
        levels.append(tuple(lv))
    own_pos, own_seg = [], []
    for i in range(n):
        pos = np.flatnonzero(dec_player == i)
        srt = np.argsort(dec_edge[pos], kind="stable")
        own_pos.append(pos[srt].astype(np.int32))
        own_seg.append(dec_edge[pos[srt]].astype(np.int32))
    legal = np.arange(A)[None, :] < infoset_k[:, None]
    node_row = np.where(kind >= 0, infoset, np.where(kind == CHANCE, chance_row, -1))
    term_row = np.full(H, -1, np.int64)
    term_row[terminals] = np.arange(Z)
    node_row = np.where(kind == TERMINAL, term_row, node_row).astype(np.int32)
    node_children = np.repeat(np.arange(H, dtype=np.int32)[:, None], max(A, Ac), axis=1)
    for h in range(H):
        for c in children[h]:
            node_children[h, col[c]] = c
    if infoset_keys is None:
        infoset_keys = tuple(str(s) for s in range(I))
    elif len(infoset_keys) != I:
        raise ValueError(f"infoset_keys has {len(infoset_keys)} names for {I} information sets")
    if infoset_action_ids is None:
        infoset_action_ids = np.where(legal, np.arange(A)[None, :], -1)
    tree = _Tree(
        num_players=n, num_infosets=I, max_actions=A, max_outcomes=Ac, num_chance=C,
        num_terminals=Z, num_histories=H, depth=int(depth.max()), infoset_player=infoset_player.astype(np.int32),
        infoset_num_actions=infoset_k.astype(np.int32), legal=legal,
        hist_count=hist_count, dec_edge=dec_edge, dec_player=dec_player, dec_count=dec_count,
        chance_edge=chance_edge, terminal_nodes=terminals.astype(np.int64),
        own_pos=tuple(own_pos), own_seg=tuple(own_seg), own_path=own_path,
        last_seq=last_seq, infoset_parent_seq=infoset_parent_seq.astype(np.int32),
        levels=tuple(levels), root=root, node_kind=kind.astype(np.int32), node_row=node_row,
        node_children=node_children, infoset_keys=tuple(infoset_keys),
        infoset_action_ids=np.asarray(infoset_action_ids, np.int64),
        **(private or {}),
    )
    return tree, utilities, chance_probs


@dataclasses.dataclass(frozen=True, init=False)
class ExtensiveFormGame:
    """A finite extensive-form game with chance, imperfect information and perfect recall.

    Build one with :meth:`from_openspiel` or :meth:`from_arrays`. The tree is static; the leaves
    ``utilities`` ``[*batch, num_terminals, num_players]`` and ``chance_probs``
    ``[*batch, num_chance_nodes, max_outcomes]`` may carry batch axes (:meth:`with_utilities`,
    :meth:`stack`), in which case :func:`solvers.solve` solves every member in one call.

    A policy is an array ``[*batch, num_infosets, max_actions]`` of per-infoset distributions.

    Raises:
      TypeError: if ``tree`` is not a compiled tree or an array is not numeric.
      ValueError: if the arrays do not fit the tree or are not finite.

    Example:
      >>> import jax; jax.config.update("jax_enable_x64", True)
      >>> from socialign import solvers
      >>> g = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
      >>> round(float(solvers.nash_conv(g, g.uniform_policy())), 6)
      0.916667
    """

    utilities: jax.Array
    chance_probs: jax.Array
    tree: _Tree

    CHANCE = CHANCE
    TERMINAL = TERMINAL

    def __init__(self, utilities, chance_probs, tree: _Tree):
        if not isinstance(tree, _Tree):
            raise TypeError("tree must come from ExtensiveFormGame.from_openspiel/from_arrays")
        utilities = as_float_array(utilities, "utilities")
        chance_probs = as_float_array(chance_probs, "chance_probs", dtype=utilities.dtype)
        if utilities.ndim < 2 or tuple(utilities.shape[-2:]) != (tree.num_terminals,
                                                                  tree.num_players):
            raise ValueError(f"utilities must have shape [*batch, {tree.num_terminals}, "
                             f"{tree.num_players}]; got {tuple(utilities.shape)}")
        batch = tuple(utilities.shape[:-2])
        want = (tree.num_chance, tree.max_outcomes)
        if chance_probs.ndim < 2 or tuple(chance_probs.shape[-2:]) != want:
            raise ValueError(f"chance_probs must have shape [*batch, {want[0]}, {want[1]}]; got "
                             f"{tuple(chance_probs.shape)}")
        if tuple(chance_probs.shape[:-2]) != batch:
            if chance_probs.ndim != 2:
                raise ValueError(f"chance_probs has batch shape {tuple(chance_probs.shape[:-2])} "
                                 f"but utilities has {batch}")
            chance_probs = jnp.broadcast_to(chance_probs, (*batch, *want))
        check_finite(utilities, "utilities")
        check_finite(chance_probs, "chance_probs")
        if is_concrete(chance_probs) and chance_probs.size:
            # as from_arrays checks (the constructor took Kuhn's deal probabilities times 5)
            cp = np.asarray(chance_probs, np.float64)
            tol = max(1e-9, 64 * float(jnp.finfo(chance_probs.dtype).eps))
            if np.any(cp < 0) or np.any(np.abs(cp.sum(-1) - 1) > tol):
                raise ValueError("chance_probs must be non-negative and sum to 1 at every "
                                 "chance node (last axis)")
        object.__setattr__(self, "utilities", utilities)
        object.__setattr__(self, "chance_probs", chance_probs)
        object.__setattr__(self, "tree", tree)

    # -- shape information -------------------------------------------------------------------
    @property
    def num_players(self) -> int:
        return self.tree.num_players

    @property
    def num_infosets(self) -> int:
        """Information sets of all players together (OpenSpiel's count)."""
        return self.tree.num_infosets

    @property
    def max_actions(self) -> int:
        return self.tree.max_actions

    @property
    def num_histories(self) -> int:
        """All nodes of the tree (decision, chance and terminal)."""
        return self.tree.num_histories

    @property
    def num_terminals(self) -> int:
        return self.tree.num_terminals

    @property
    def infoset_player(self) -> np.ndarray:
        """``[num_infosets]`` acting player of each information set."""
        return self.tree.infoset_player

    @property
    def legal_mask(self) -> np.ndarray:
        """``[num_infosets, max_actions]`` boolean mask of legal action columns."""
        return self.tree.legal

    @property
    def infoset_keys(self) -> tuple:
        """Information-state strings (OpenSpiel) or ``str(index)`` per information set."""
        return self.tree.infoset_keys

    @property
    def batch_shape(self) -> tuple:
        return tuple(self.utilities.shape[:-2])

    @property
    def dtype(self):
        return self.utilities.dtype

    def __getitem__(self, index) -> ExtensiveFormGame:
        """Index the batch axes: ``games[3]`` is the fourth game of a stack."""
        if not self.batch_shape:
            raise IndexError("this game is not batched; there is nothing to index")
        return ExtensiveFormGame(self.utilities[index], self.chance_probs[index], self.tree)

    def uniform_policy(self) -> jax.Array:
        """The uniform behavioural policy ``[num_infosets, max_actions]``."""
        legal = self.tree.legal
        return jnp.asarray(legal / legal.sum(1, keepdims=True), dtype=self.dtype)

    def is_zero_sum(self, atol: float = 1e-9) -> bool:
        """True when the terminal utilities sum to zero over players (concrete games only)."""
        return bool(np.all(np.abs(np.asarray(self.utilities).sum(-1)) <= atol))

    # -- batching ---------------------------------------------------------------------------
    def with_utilities(self, utilities) -> ExtensiveFormGame:
        """Same tree, new terminal utilities ``[*batch, num_terminals, num_players]``.

        Extra leading axes become batch axes. The chance probabilities are carried over: an
        unbatched game's are broadcast (also when they are traced, inside ``jit``); a batched
        game's must be equal across its batch to be broadcast to a new batch shape.

        Raises:
          TypeError: if ``utilities`` is not numeric.
          ValueError: if its shape does not fit the tree, or a batched game's chance
            probabilities differ across the batch (or are traced) and the batch shape changes.

        Example:
          >>> import jax; jax.config.update("jax_enable_x64", True)
          >>> import jax.numpy as jnp
          >>> from socialign import solvers
          >>> g = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
          >>> g.with_utilities(g.utilities * jnp.arange(1., 5.)[:, None, None]).batch_shape
          (4,)
        """
        utilities = as_float_array(utilities, "utilities")
        if utilities.ndim < 2 or tuple(utilities.shape[-2:]) != tuple(self.utilities.shape[-2:]):
            raise ValueError(f"utilities must have shape [*batch, {self.num_terminals}, "
                             f"{self.num_players}]; got {tuple(utilities.shape)}")
        batch = tuple(utilities.shape[:-2])
        cp = self.chance_probs
        cp_batch, cp_event = tuple(cp.shape[:-2]), tuple(cp.shape[-2:])
        if cp_batch != batch:
            if cp_batch:
                # the chance probabilities of a batched game carry over only if they are the same
                # for every member (checked on concrete values; traced ones cannot be checked)
                flat = cp.reshape(math.prod(cp_batch), *cp_event)
                if not is_concrete(flat):
                    raise ValueError(
                        f"utilities has batch shape {batch} but this game's chance "
                        f"probabilities have batch shape {cp_batch}; pass utilities with batch "
                        f"shape {cp_batch}, or start from an unbatched game")
                if not bool(np.all(np.asarray(flat) == np.asarray(flat[:1]))):
                    raise ValueError(f"utilities has batch shape {batch} but this game's chance "
                                     f"probabilities vary over batch shape {cp_batch}")
                cp = flat[0]
            cp = jnp.broadcast_to(cp, (*batch, *cp_event))
        return ExtensiveFormGame(utilities, cp, self.tree)

    @staticmethod
    def stack(games: Sequence[ExtensiveFormGame]) -> ExtensiveFormGame:
        """Stack games with the same tree along a new leading batch axis.

        Example:
          >>> import jax; jax.config.update("jax_enable_x64", True)
          >>> from socialign import solvers
          >>> g = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
          >>> solvers.ExtensiveFormGame.stack([g, g]).batch_shape
          (2,)
        """
        games = list(games)
        if not games:
            raise ValueError("games must be a non-empty sequence of ExtensiveFormGame")
        for k, g in enumerate(games):
            if not isinstance(g, ExtensiveFormGame):
                raise TypeError(f"games[{k}] is a {type(g).__name__}, not an ExtensiveFormGame")
            if g.tree != games[0].tree:
                raise ValueError(f"games[{k}] has a different game tree than games[0]; only "
                                 "games with the same tree can be stacked")
            if g.batch_shape != games[0].batch_shape:
                raise ValueError(f"games[{k}] has batch shape {g.batch_shape}, games[0] has "
                                 f"{games[0].batch_shape}")
        return ExtensiveFormGame(jnp.stack([g.utilities for g in games]),
                                 jnp.stack([g.chance_probs for g in games]), games[0].tree)

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, parent, player, utilities, *, infoset=None, chance_prob=None,
                    action=None, num_players: int | None = None,
                    infoset_keys: Sequence[str] | None = None) -> ExtensiveFormGame:
        """Build a game from node arrays (one entry per node of the tree).

        Args:
          parent: ``[H]`` int, the parent node of each node, ``-1`` at the (single) root.
          player: ``[H]`` int, the acting player (``0..n-1``), ``CHANCE`` (-1) or ``TERMINAL`` (-2).
          utilities: ``[*batch, H, n]`` payoffs; only terminal rows are read.
          infoset: ``[H]`` int, the information set of each decision node (ids ``0..I-1``, shared
            by nodes the acting player cannot tell apart). Default: one infoset per decision
            node (perfect information).
          chance_prob: ``[H]`` probability of the edge into each child of a chance node.
          action: ``[H]`` int, the action index (column) taken at the parent to reach the node.
            Default: children are numbered in node order.
          num_players: number of players (default: ``utilities.shape[-1]``).
          infoset_keys: optional names of the information sets.

        Example (a sequential entry game, entrant then incumbent):
          >>> import jax; jax.config.update("jax_enable_x64", True)
          >>> from socialign import solvers
          >>> T, C = solvers.ExtensiveFormGame.TERMINAL, solvers.ExtensiveFormGame.CHANCE
          >>> g = solvers.ExtensiveFormGame.from_arrays(
          ...     parent=[-1, 0, 0, 2, 2], player=[0, T, 1, T, T],
          ...     utilities=[[0, 0], [0, 2], [0, 0], [-1, -1], [1, 1]])
          >>> g.num_infosets
          2
        """
        parent = _int_array(parent, "parent")
        H = len(parent)
        player = _int_array(player, "player", H)
        util = as_float_array(utilities, "utilities")
        if not is_concrete(util):
            raise TypeError("from_arrays needs concrete utilities (build the game outside jit; "
                            "use with_utilities to vary payoffs under jit/vmap)")
        if util.ndim < 2 or util.shape[-2] != H:
            raise ValueError(f"utilities must have shape [*batch, {H}, num_players]; got "
                             f"{tuple(util.shape)}")
        check_finite(util, "utilities")
        n = util.shape[-1] if num_players is None else check_positive_int(num_players,
                                                                          "num_players")
        if util.shape[-1] != n:
            raise ValueError(f"utilities has {util.shape[-1]} columns but num_players = {n}")
        if infoset is None:
            dec = np.flatnonzero(player >= 0)
            infoset = np.full(H, -1, np.int64)
            infoset[dec] = np.arange(len(dec))
        else:
            infoset = _int_array(infoset, "infoset", H)
        if action is None:
            action = np.zeros(H, np.int64)
            seen = {}
            for h in range(H):
                p = int(parent[h])
                if p >= 0:
                    action[h] = seen.get(p, 0)
                    seen[p] = action[h] + 1
        else:
            action = _int_array(action, "action", H)
        if chance_prob is None:
            if np.any(player == CHANCE):
                raise ValueError("chance_prob is required when the tree has chance nodes")
            chance_prob = np.zeros(H)
        else:
            chance_prob = np.asarray(as_float_array(chance_prob, "chance_prob"), np.float64)
            if chance_prob.shape != (H,):
                raise ValueError(f"chance_prob must have shape ({H},), got {chance_prob.shape}")
        if infoset_keys is not None:
            infoset_keys = tuple(str(k) for k in infoset_keys)
        np_util = np.asarray(util, np.float64)
        batch = np_util.shape[:-2]
        flat = np_util.reshape(-1, H, n)
        tree, _, chance = _compile(parent, player, infoset, action, chance_prob, flat[0], n,
                                   infoset_keys=infoset_keys)
        terminals = tree.terminal_nodes
        u = flat[:, terminals, :].reshape(*batch, len(terminals), n)
        return cls(jnp.asarray(u, dtype=util.dtype), jnp.asarray(chance, dtype=util.dtype), tree)

    @classmethod
    def from_openspiel(cls, name_or_game, *, max_histories: int = 5_000_000) -> ExtensiveFormGame:
        """Compile any finite sequential OpenSpiel game (with explicit chance) into arrays.

        The tree is walked once on the host. Information sets are keyed by
        ``information_state_string``; policy columns follow ``legal_actions()`` order.
        Simultaneous-move games are refused: convert them first with
        ``pyspiel.convert_to_turn_based(game)``.

        Args:
          name_or_game: a game string such as ``"leduc_poker"`` or a loaded ``pyspiel.Game``.
          max_histories: refuse trees with more nodes than this (the walk is host Python).

        Example:
          >>> import jax; jax.config.update("jax_enable_x64", True)
          >>> from socialign import solvers
          >>> solvers.ExtensiveFormGame.from_openspiel("leduc_poker").num_infosets
          936
        """
        try:
            import pyspiel
        except ImportError as e:  # pragma: no cover - open_spiel is a hard dependency
            raise ImportError("from_openspiel needs open_spiel (pip install open_spiel)") from e
        if isinstance(name_or_game, str):
            try:
                game = pyspiel.load_game(name_or_game)
            except Exception as e:
                raise ValueError(f"name_or_game: OpenSpiel cannot load {name_or_game!r}: {e}") \
                    from None
        elif isinstance(name_or_game, pyspiel.Game):
            game = name_or_game
        else:
            raise TypeError(f"name_or_game must be a game name or a pyspiel.Game, got "
                            f"{type(name_or_game).__name__}")
        max_histories = check_positive_int(max_histories, "max_histories")
        gt = game.get_type()
        if gt.dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL:
            raise ValueError(
                f"name_or_game: {game} has {gt.dynamics} dynamics; only sequential games compile "
                "to an ExtensiveFormGame. Convert a simultaneous-move game first with "
                "pyspiel.convert_to_turn_based(game) (or use NormalFormGame for one-shot games)")
        if gt.chance_mode == pyspiel.GameType.ChanceMode.SAMPLED_STOCHASTIC:
            raise ValueError(f"name_or_game: {game} has sampled (implicit) chance; the tree "
                             "cannot be enumerated")
        if not gt.provides_information_state_string:
            raise ValueError(f"name_or_game: {game} does not provide information-state strings")
        n = game.num_players()
        parent, kind, infoset, col, eprob, util = [], [], [], [], [], []
        keys: dict[str, int] = {}
        actions: list[list[int]] = []
        states = []
        stack = [(game.new_initial_state(), -1, 0, 0.0)]
        while stack:
            state, p, c, pr = stack.pop()
            h = len(parent)
            if h >= max_histories:
                raise ValueError(f"name_or_game: {game} has more than max_histories = "
                                 f"{max_histories} histories; pass a larger max_histories")
            parent.append(p)
            col.append(c)
            eprob.append(pr)
            if state.is_terminal():
                kind.append(TERMINAL)
                infoset.append(-1)
                util.append(state.returns())
                continue
            util.append([0.0] * n)
            if state.is_simultaneous_node():
                raise ValueError(f"name_or_game: {game} has a simultaneous-move node; convert "
                                 "it with pyspiel.convert_to_turn_based(game)")
            if state.is_chance_node():
                kind.append(CHANCE)
                infoset.append(-1)
                for k, (a, prob) in enumerate(state.chance_outcomes()):
                    stack.append((state.child(a), h, k, prob))
                continue
            pl = state.current_player()
            if pl < 0:
                raise ValueError(f"name_or_game: unexpected node type (player {pl}) in {game}")
            key = state.information_state_string(pl)
            legal = list(state.legal_actions(pl))
            s = keys.get(key)
            if s is None:
                s = keys[key] = len(actions)
                actions.append(legal)
                states.append(state)
            elif actions[s] != legal:
                raise ValueError(f"name_or_game: information state {key!r} has different legal "
                                 "actions at different histories")
            kind.append(pl)
            infoset.append(s)
            for k, a in enumerate(legal):
                stack.append((state.child(a), h, k, 0.0))
        A = max(len(a) for a in actions) if actions else 1
        ids = np.full((len(actions), A), -1, np.int64)
        for s, a in enumerate(actions):
            ids[s, : len(a)] = a
        tree, u, chance = _compile(
            np.asarray(parent), np.asarray(kind), np.asarray(infoset), np.asarray(col),
            np.asarray(eprob), np.asarray(util, np.float64), n,
            infoset_keys=tuple(keys), infoset_action_ids=ids,
            private={"_pyspiel_game": game, "_pyspiel_states": tuple(states)})
        dtype = jnp.result_type(float)
        return cls(jnp.asarray(u, dtype), jnp.asarray(chance, dtype), tree)

    @classmethod
    def from_gambit(cls, source) -> ExtensiveFormGame:
        """Read a Gambit ``.efg`` file (text, path or bytes); see :func:`._gambit.efg_from_gambit`."""
        from ._gambit import efg_from_gambit

        return efg_from_gambit(source)

    def to_gambit(self, *, title: str | None = None) -> str:
        """Gambit ``.efg`` text of this game; see :func:`._gambit.efg_to_gambit`."""
        from ._gambit import efg_to_gambit

        return efg_to_gambit(self, title=title)

    # -- OpenSpiel policies -----------------------------------------------------------------
    def _require_openspiel(self):
        game = getattr(self.tree, "_pyspiel_game", None)
        if game is None:
            raise ValueError("this game was not built by ExtensiveFormGame.from_openspiel; "
                             "OpenSpiel policies need the OpenSpiel game")
        return game

    def to_openspiel_policy(self, policy):
        """Convert a policy array ``[num_infosets, max_actions]`` to an OpenSpiel ``TabularPolicy``.

        Example:
          >>> import jax; jax.config.update("jax_enable_x64", True)
          >>> from socialign import solvers
          >>> g = solvers.ExtensiveFormGame.from_openspiel("kuhn_poker")
          >>> tp = g.to_openspiel_policy(g.uniform_policy())
          >>> tp.action_probability_array.shape
          (12, 2)
        """
        from open_spiel.python import policy as os_policy

        game = self._require_openspiel()
        if self.batch_shape:
            raise ValueError("to_openspiel_policy converts one game's policy; index the batch")
        pol = validate_policy(self, policy)
        pol = np.asarray(pol, np.float64)
        tab = os_policy.TabularPolicy(game)
        arr = np.zeros_like(tab.action_probability_array)
        ids = self.tree.infoset_action_ids
        for s, key in enumerate(self.tree.infoset_keys):
            row = tab.state_lookup.get(key)
            if row is None:
                raise ValueError(f"information state {key!r} is missing from OpenSpiel's "
                                 "TabularPolicy")
            k = self.tree.infoset_num_actions[s]
            arr[row, ids[s, :k]] = pol[s, :k]
        tab.action_probability_array = arr
        return tab

    def policy_from_openspiel(self, policy) -> jax.Array:
        """Convert an OpenSpiel policy to a policy array ``[num_infosets, max_actions]``.

        Accepts a Python ``TabularPolicy``, any Python ``open_spiel.python.policy.Policy``, a
        ``pyspiel`` policy (e.g. ``pyspiel.CFRSolver(...).average_policy()``) or a dict mapping
        information-state strings to ``[(action, prob), ...]``.
        """
        I, A = self.num_infosets, self.max_actions
        ids = self.tree.infoset_action_ids
        out = np.zeros((I, A))
        if hasattr(policy, "action_probability_array") and hasattr(policy, "state_lookup"):
            arr = np.asarray(policy.action_probability_array)
            for s, key in enumerate(self.tree.infoset_keys):
                row = policy.state_lookup.get(key)
                if row is None:
                    raise ValueError(f"policy has no entry for information state {key!r}")
                k = self.tree.infoset_num_actions[s]
                out[s, :k] = arr[row, ids[s, :k]]
        else:
            if isinstance(policy, dict):
                def get(s, key):
                    if key not in policy:
                        raise ValueError(f"policy has no entry for information state {key!r}")
                    return policy[key]
            elif hasattr(policy, "get_state_policy"):
                def get(s, key):
                    return policy.get_state_policy(key)
            elif hasattr(policy, "action_probabilities"):
                self._require_openspiel()
                states = self.tree._pyspiel_states

                def get(s, key):
                    return list(policy.action_probabilities(states[s]).items())
            else:
                raise TypeError(f"policy must be an OpenSpiel policy or a dict, got "
                                f"{type(policy).__name__}")
            for s, key in enumerate(self.tree.infoset_keys):
                k = self.tree.infoset_num_actions[s]
                col = {int(a): j for j, a in enumerate(ids[s, :k])}
                for a, p in get(s, key):
                    if int(a) not in col:
                        if p != 0:
                            raise ValueError(f"policy puts probability on illegal action {a} "
                                             f"at information state {key!r}")
                        continue
                    out[s, col[int(a)]] = p
        return validate_policy(self, jnp.asarray(out, self.dtype), "policy")


def _int_array(x, name, length=None):
    try:
        a = np.asarray(x)
    except Exception as e:
        raise TypeError(f"{name} must be an array of ints: {e}") from None
    if a.ndim != 1 or not (np.issubdtype(a.dtype, np.integer) or
                           (np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)))):
        raise TypeError(f"{name} must be a 1-d array of ints, got shape {a.shape} dtype {a.dtype}")
    if length is not None and len(a) != length:
        raise ValueError(f"{name} must have one entry per node ({length}), got {len(a)}")
    if len(a) == 0:
        raise ValueError(f"{name} must be non-empty")
    return a.astype(np.int64)


def validate_policy(game: ExtensiveFormGame, policy, name: str = "policy") -> jax.Array:
    """Check a behavioural policy against ``game``; return it as a float array.

    Accepts arrays ``[*batch, num_infosets, max_actions]`` (rows sum to 1 over legal actions,
    zero on illegal ones) or OpenSpiel policies (converted with ``policy_from_openspiel``).
    """
    if not isinstance(game, ExtensiveFormGame):
        raise TypeError(f"game must be an ExtensiveFormGame, got {type(game).__name__}")
    if (hasattr(policy, "action_probability_array") or hasattr(policy, "get_state_policy")
            or hasattr(policy, "action_probabilities") or isinstance(policy, dict)):
        if game.batch_shape:
            raise ValueError(f"{name}: OpenSpiel policies apply to unbatched games only")
        return game.policy_from_openspiel(policy)
    pol = as_float_array(policy, name, dtype=game.dtype)
    want = (*game.batch_shape, game.num_infosets, game.max_actions)
    if tuple(pol.shape) != want:
        raise ValueError(f"{name} must have shape {want} ([*batch, num_infosets, max_actions]), "
                         f"got {tuple(pol.shape)}")
    if is_concrete(pol):
        check_finite(pol, name)
        a = np.asarray(pol, np.float64)
        atol = 1e-5 if pol.dtype == jnp.float32 else 1e-8
        legal = game.tree.legal
        if np.any(a < -atol):
            raise ValueError(f"{name} must be non-negative (min entry {a.min():.3g})")
        if np.any(np.abs(np.where(legal, 0.0, a)) > atol):
            raise ValueError(f"{name} puts probability on illegal actions (columns beyond an "
                             "information set's number of actions must be 0)")
        s = a.sum(-1)
        if np.any(np.abs(s - 1) > atol * game.max_actions):
            raise ValueError(f"{name} rows must sum to 1 over legal actions (sums range over "
                             f"[{s.min():.6g}, {s.max():.6g}])")
    return pol


def _flatten(game: ExtensiveFormGame):
    return (game.utilities, game.chance_probs), game.tree


def _unflatten(tree, children) -> ExtensiveFormGame:
    game = object.__new__(ExtensiveFormGame)
    object.__setattr__(game, "utilities", children[0])
    object.__setattr__(game, "chance_probs", children[1])
    object.__setattr__(game, "tree", tree)
    return game


jax.tree_util.register_pytree_node(ExtensiveFormGame, _flatten, _unflatten)
