"""Helpers the backends share, against the plain definitions they replace for speed."""

from __future__ import annotations

import random

from cnai.backends import k8s
from cnai.backends.kfp_dag import Group, Task, _common_depth


def test_names_take_the_first_free_suffix_as_a_plain_scan_would() -> None:
    rng = random.Random(7)
    names, taken = k8s.Names("a", "b-3"), {"a", "b-3"}
    for _ in range(2000):
        wanted = rng.choice(["a", "b", "a-2", "c", "b-4"])
        name, counter = wanted, 2  # the definition: wanted, then wanted-2, wanted-3, ...
        while name in taken:
            name, counter = f"{wanted}-{counter}", counter + 1
        taken.add(name)
        assert names.take(wanted) == name


def test_common_depth_of_ancestries_is_the_shared_prefix() -> None:
    rng = random.Random(11)
    root = Group("root", None)
    nodes: list[Task] = [root]
    for number in range(400):
        parent = rng.choice([n for n in nodes[-60:] if isinstance(n, Group)] or [root])
        nodes.append((Group if rng.random() < 0.7 else Task)(f"n{number}", parent))
    for _ in range(2000):
        a, b = rng.choice(nodes).ancestry(), rng.choice(nodes).ancestry()
        plain = 0
        while plain < min(len(a), len(b)) and a[plain] is b[plain]:
            plain += 1
        assert _common_depth(a, b) == plain
