"""HDF5 feature store and CNM's resampling (cnm_minimal/data/features.py)."""

import pickle

import h5py
import numpy as np
import pytest

from cnm_minimal.data.features import (
    FeatureError,
    FeatureStore,
    clip_boundaries,
    resample_clips,
    write_features,
)


def reference_bounds(t, n):
    """The authors' boundaries, one at a time: j / n * t in double precision, rounded half to even,
    clipped."""
    return [min(int(np.round(j / n * t)), t - 1) for j in range(n + 1)]


def reference_resample(features, n):
    """The authors' resampling written as plainly as possible: one clip at a time."""
    t = len(features)
    bounds = reference_bounds(t, n)
    rows = []
    for j in range(n):
        a, b = bounds[j], bounds[j + 1]
        rows.append(features[a:b].mean(axis=0) if a < b else features[a])
    return np.stack(rows)


@pytest.mark.parametrize("length, clips", [(300, 200), (200, 200), (37, 200), (1, 8), (450, 50), (7, 3)])
def test_resample_matches_the_spec_loop(length, clips):
    features = np.random.default_rng(length).standard_normal((length, 6)).astype(np.float32)
    out = resample_clips(features, clips)
    assert out.shape == (clips, 6) and out.dtype == np.float32
    np.testing.assert_allclose(out, reference_resample(features, clips), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("clips", [200, 64, 50])
def test_boundaries_are_the_authors_for_every_length_up_to_1000(clips):
    for length in range(1, 1001):
        assert clip_boundaries(length, clips).tolist() == reference_bounds(length, clips), length
    assert reference_bounds(25, 200)[4] == 0 and round(4 * 25 / 200) == 0  # 0.5: a tie, rounded to even
    assert [round(j * 300 / 200) for j in range(201)] != reference_bounds(
        300, 200
    )  # the order matters: j*T/N differs


def test_resample_never_averages_in_the_last_row_when_clipped():
    features = np.zeros((10, 1), dtype=np.float32)
    features[-1] = 1000.0
    assert resample_clips(features, 5).max() == 0.0


@pytest.fixture
def store_path(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "f.hdf5"
    write_features(path, {"AAA01": rng.standard_normal((12, 4)), "BBB02": rng.standard_normal((30, 4))})
    return path


def test_store_reads_resamples_and_checks(store_path):
    store = FeatureStore(store_path)
    assert store.load("AAA01").shape == (12, 4)
    assert store.load("BBB02", num_clips=8).shape == (8, 4)
    store.check(["AAA01", "BBB02"], dim=4)
    with pytest.raises(
        FeatureError,
        match=r"2 annotated video\(s\) have unusable features:\n  "
        r"no features for video CCC03\n  no features for video DDD04",
    ):
        store.check(["AAA01", "CCC03", "DDD04"], dim=4)
    with pytest.raises(
        FeatureError,
        match=r"video AAA01 has shape \[12, 4\], expected \[T >= 1, 8\]\n"
        r"  video BBB02 has shape \[30, 4\]",
    ):
        store.check(["AAA01", "BBB02"], dim=8)
    assert store.problems(["AAA01"], dim=4, read_values=True) == []


def _load_in_child(store, queue):
    queue.put(store.load("BBB02").shape)


def test_one_store_serves_a_pickled_copy_and_a_forked_child(store_path):
    """What DataLoader workers do with the store: receive a pickled copy, or inherit it by fork after use."""
    import multiprocessing

    store = FeatureStore(store_path)
    first = store.load("AAA01")
    clone = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(clone.load("AAA01"), first)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_load_in_child, args=(store, queue))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0 and queue.get(timeout=5) == (30, 4)
    np.testing.assert_array_equal(store.load("AAA01"), first)  # the parent's handle still works


def test_nan_and_inf_are_rejected_with_the_video_id(tmp_path):
    bad = np.ones((5, 3))
    bad[2, 1] = np.nan
    bad[4, 0] = np.inf
    write_features(tmp_path / "f.hdf5", {"AAA01": bad})
    with pytest.raises(FeatureError, match=r"video AAA01 has NaN or infinite values in 2 row"):
        FeatureStore(tmp_path / "f.hdf5").load("AAA01")


def test_missing_truncated_and_non_hdf5_files(store_path, tmp_path):
    with pytest.raises(FeatureError, match="feature file not found"):
        FeatureStore(tmp_path / "absent.hdf5")
    truncated = tmp_path / "truncated.hdf5"
    truncated.write_bytes(store_path.read_bytes()[:1500])
    with pytest.raises(FeatureError, match=r"truncated\.hdf5.*(truncated or corrupt|cannot read video)"):
        FeatureStore(truncated).load("BBB02")
    text = tmp_path / "text.hdf5"
    text.write_text("not hdf5")
    with pytest.raises(FeatureError, match="not a readable HDF5 file"):
        FeatureStore(text)


def test_activitynet_c3d_layout(tmp_path):
    write_features(tmp_path / "c3d.hdf5", {"v_abc": np.ones((9, 5))}, layout="c3d")
    with h5py.File(tmp_path / "c3d.hdf5") as handle:
        assert handle["v_abc"]["c3d_features"].shape == (9, 5)
    store = FeatureStore(tmp_path / "c3d.hdf5", layout="c3d")
    assert store.load("v_abc", 4).shape == (4, 5)
    with pytest.raises(FeatureError, match="is a group, not a"):
        FeatureStore(tmp_path / "c3d.hdf5", layout="flat").check(["v_abc"], 5)


def test_write_is_byte_stable(tmp_path):
    arrays = {"A": np.arange(12.0).reshape(3, 4)}
    write_features(tmp_path / "a.hdf5", arrays)
    write_features(tmp_path / "b.hdf5", arrays)
    assert (tmp_path / "a.hdf5").read_bytes() == (tmp_path / "b.hdf5").read_bytes()
