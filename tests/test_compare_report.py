"""studio.compare's outputs field by field (the JSON of `studio compare --json` and the display
table) and Fisher's test against an independent reference — written to kill the mutants the
mutation pass left alive (docs/testing.md)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from test_compare import paired_sets, write_rollout_set

from studio import compare as cmp
from studio.compare import compare_paths, fisher_exact


def _fisher_reference(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher p from the hypergeometric pmf C(n1,x)·C(n2,s−x)/C(n1+n2,s), in fractions."""
    s = k1 + k2
    pmf = {x: Fraction(math.comb(n1, x) * math.comb(n2, s - x), math.comb(n1 + n2, s))
           for x in range(0, n1 + 1) if 0 <= s - x <= n2}
    return float(sum(p for p in pmf.values() if p <= pmf[k1]))


@pytest.mark.parametrize("table", [(3, 10, 8, 10), (1, 1, 0, 1), (0, 1, 1, 1), (1, 1, 0, 5), (2, 3, 0, 4),
                                   (0, 2, 2, 2), (7, 9, 2, 11), (4, 4, 0, 4), (1, 2, 1, 2)])
def test_fisher_exact_matches_an_independent_hypergeometric_sum(table):
    assert fisher_exact(*table) == pytest.approx(_fisher_reference(*table), rel=1e-9)


def test_fisher_exact_with_an_empty_set_is_one():
    assert fisher_exact(0, 0, 3, 5) == 1.0 and fisher_exact(2, 4, 0, 0) == 1.0


def test_comparison_json_carries_every_field(tmp_path):
    a, b = paired_sets(tmp_path, both=6, only_a=1, only_b=5, neither=3)
    c = write_rollout_set(tmp_path / "C", [(1000 + i, i % 2 == 0) for i in range(15)], policy="pol-c", env="env-c")
    comp = compare_paths([a, b, c])
    out = comp.to_json()

    for key, rs in (("a", comp.sets[0]), ("b", comp.sets[1])):
        assert out[key] == {"name": rs.name, "path": str(rs.root), "policy": rs.policy, "env": rs.env,
                            "n_episodes": 15, "reviewed": 0}
    assert out["b"]["name"] == "B" and out["a"]["policy"] == "A" and out["a"]["env"] == "pick_cube"
    assert [m["name"] for m in out["metrics"]] == [r.metric.name for r in comp.rows]
    for item, row in zip(out["metrics"], comp.rows):
        m = row.metric
        assert (item["doc"], item["direction"], item["plugin"]) == (m.doc, m.direction, m.plugin)
        assert item["a"] == row.estimates[0].to_json() and item["b"] == row.estimates[1].to_json()
        assert item["verdict"] == (row.verdicts[1].to_json() if row.verdicts[1] else None)
        (other,) = item["others"]
        assert other == {"name": "C", **row.estimates[2].to_json(),
                         "verdict": row.verdicts[2].to_json() if row.verdicts[2] else None}
    sr = out["metrics"][0]
    assert sr["name"] == "success rate" and sr["a"]["value"] == pytest.approx(7 / 15) and sr["b"]["n"] == 15
    assert sr["b"]["value"] == pytest.approx(11 / 15)
    assert out["verdict"]["metric"] == "success rate" and out["verdict"]["headline"] == comp.headline(1)
    assert out["verdict"]["winner"] == comp.verdict(1).winner
    paired = out["paired"]
    assert (paired["n_shared_seeds"], paired["both"], paired["only_a"], paired["only_b"], paired["neither"]) == \
        (15, 6, 1, 5, 3)
    assert paired["used"] is True
    assert [s["seed"] for s in paired["seeds"]] == list(range(1000, 1015))
    assert [(s["episode_a"], s["episode_b"]) for s in paired["seeds"]] == [(i, i) for i in range(15)]
    outcomes = [(s["a"], s["b"]) for s in paired["seeds"]]
    assert outcomes == [(g.outcome_a, g.outcome_b) for g in comp.grids[0]] and outcomes[0] != outcomes[6]


def test_comparison_table_formats_each_set_and_verdict(tmp_path):
    a, b = paired_sets(tmp_path, both=10, only_a=0, only_b=10, neither=10)
    comp = compare_paths([a, b])
    two = comp.to_json()
    assert two["b"]["name"] == "B" and two["paired"]["only_b"] == 10 and "others" not in two["metrics"][0]
    table = cmp.comparison_table(comp)
    assert [r["metric"] for r in table] == [r.metric.name for r in comp.rows]
    first, row = table[0], comp.rows[0]
    assert first["better"] == row.metric.direction and first["plugin"] == row.metric.plugin
    assert first["A"] == row.metric.format(row.estimates[0]) and first["B"] == row.metric.format(row.estimates[1])
    v = row.verdicts[1]
    assert first["verdict"] == f"{v.text} (p={v.p_value:.3g}, {v.method})" + (f"; {v.resolve}" if v.resolve else "")
    assert first["verdict"].startswith("B better (p=")
    even = cmp.comparison_table(compare_paths(list(paired_sets(tmp_path / "even", both=5, only_a=0, only_b=0,
                                                                 neither=5))))
    tie = even[0]["verdict"]
    assert tie.startswith("no detectable difference") and "; " in tie  # says how to resolve it


@pytest.mark.parametrize("paired", [False, True])
def test_bootstrap_difference_is_seeded(paired):
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.0, 1.0, 25), rng.normal(0.4, 1.0, 25)
    first, again = (cmp.bootstrap_difference(a, b, paired=paired) for _ in range(2))
    assert first.p_value == again.p_value  # the same seed, the same p-value, run after run
    other = cmp.bootstrap_difference(a, b, paired=paired, seed=cmp.BOOTSTRAP_SEED + 1)
    assert other.p_value != first.p_value


def test_pairing_is_judged_on_the_smaller_set(tmp_path):
    small = write_rollout_set(tmp_path / "small", [(s, s % 2 == 0) for s in range(4)])
    large = write_rollout_set(tmp_path / "large", [(s, True) for s in range(2, 22)])
    paired = compare_paths([small, large]).to_json()["paired"]
    assert paired["n_shared_seeds"] == 2 and paired["used"] is True  # 2 of the small set's 4 seeds are shared
    assert compare_paths([large, small]).to_json()["paired"]["used"] is True
