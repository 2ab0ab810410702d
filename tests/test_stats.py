import numpy as np

from studio.stats import QUANTILES, episode_stats, q_name


def test_episode_stats_match_numpy_per_episode():
    rng = np.random.default_rng(0)
    lengths = np.array([1, 7, 50, 3])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    values = rng.normal(size=(lengths.sum(), 3)).astype(np.float32)
    st = episode_stats(values, starts, lengths)
    for i, (s, n) in enumerate(zip(starts, lengths)):
        ep = values[s:s + n].astype(np.float64)
        np.testing.assert_allclose(st["min"][i], ep.min(0))
        np.testing.assert_allclose(st["max"][i], ep.max(0))
        np.testing.assert_allclose(st["mean"][i], ep.mean(0), rtol=1e-9)
        np.testing.assert_allclose(st["std"][i], ep.std(0), rtol=1e-6, atol=1e-9)
        assert st["count"][i, 0] == n
        for q in QUANTILES:
            np.testing.assert_allclose(st[q_name(q)][i], np.quantile(ep, q, axis=0), rtol=1e-9)


def test_integer_features_keep_integer_min_max_and_quantiles_are_optional():
    values = np.arange(10, dtype=np.int64)
    st = episode_stats(values, np.array([0, 4]), np.array([4, 6]), quantiles=False)
    assert st["min"].dtype == np.int64 and st["min"][:, 0].tolist() == [0, 4]
    assert st["max"][:, 0].tolist() == [3, 9]
    assert not any(k.startswith("q") for k in st)
