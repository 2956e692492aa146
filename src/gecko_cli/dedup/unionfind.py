"""Union-find over document indices, with the smallest index as each set's root."""

from __future__ import annotations

import numpy as np


class UnionFind:
    """Disjoint sets over the nodes that appear in a list of edges.

    Nodes are arbitrary int64 ids (global document indices); only those that occur in edges take memory.
    The root of every set is its smallest id, so the result does not depend on edge order.
    """

    def __init__(self, nodes: np.ndarray):
        self.nodes = np.unique(nodes.astype(np.int64))
        self.parent = list(range(len(self.nodes)))

    def _index(self, ids: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.nodes, ids)

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving
            i = parent[i]
        return i

    def union_edges(self, edges: np.ndarray) -> None:
        """Merge the sets of both ends of every edge ((n, 2) array of node ids)."""
        if not len(edges):
            return
        a = self._index(edges[:, 0]).tolist()
        b = self._index(edges[:, 1]).tolist()
        find, parent = self.find, self.parent
        for x, y in zip(a, b):
            rx, ry = find(x), find(y)
            if rx != ry:
                # local indices follow id order, so the smaller local index is the smaller id
                if rx < ry:
                    parent[ry] = rx
                else:
                    parent[rx] = ry

    def roots(self) -> np.ndarray:
        """The root id of each node, aligned with `self.nodes`."""
        local = np.fromiter((self.find(i) for i in range(len(self.nodes))), dtype=np.int64, count=len(self.nodes))
        return self.nodes[local]


def components(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of an edge list.

    Returns:
        (nodes, roots): every node that appears in an edge, and the smallest node of its component.
    """
    uf = UnionFind(edges.ravel() if len(edges) else np.zeros(0, np.int64))
    uf.union_edges(edges)
    return uf.nodes, uf.roots()
