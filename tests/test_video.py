"""Video frames: the right frame of the right episode, in v3.0 shared files and v2.1 files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from studio.datasets import open_dataset
from studio.errors import DatasetError
from studio.synthetic import _video_frames, write_synthetic_dataset
from studio.video import camera_thumbnails, decode_frame, frame_at, strip, thumbnail

SO101 = Path(__file__).resolve().parent / "data" / "so101_record_test"
KEY = "observation.images.front"


def expected_frames(root: Path) -> np.ndarray:
    files = sorted((root / "data").glob("*/*.parquet"))
    state = np.concatenate([np.stack(pq.read_table(f).column("observation.state").to_pylist()) for f in files])
    return _video_frames(state.astype(np.float32), 0)


def nearest(img: np.ndarray, candidates: np.ndarray) -> int:
    err = np.abs(candidates.astype(np.int16) - img[None].astype(np.int16)).mean(axis=(1, 2, 3))
    return int(err.argmin())


@pytest.fixture(scope="module")
def v30(tmp_path_factory):
    return open_dataset(write_synthetic_dataset(tmp_path_factory.mktemp("v") / "v30", episodes=3, frames=[12, 15, 18],
                                                videos=(KEY,), seed=3))


def test_frame_at_addresses_episode_in_shared_file(v30):
    exp = expected_frames(v30.root)
    # episode 1 starts at global frame 12; 5 frames in → global frame 17
    img = frame_at(v30, KEY, 1, 5 / 30)
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8
    assert nearest(img, exp) == 17
    assert nearest(frame_at(v30, KEY, 2, 0.0), exp) == 27
    # times past the episode are clamped to its last frame, never the next episode's
    assert nearest(frame_at(v30, KEY, 0, 99.0), exp) == 11


def test_decode_frame_by_file_time(v30):
    exp = expected_frames(v30.root)
    ref = v30.video_location(KEY, 0)
    assert nearest(decode_frame(ref.path, 3 / 30), exp) == 3


def test_v21_per_episode_files(tmp_path):
    ds = open_dataset(write_synthetic_dataset(tmp_path / "v21", episodes=2, frames=[10, 10], version="v2.1",
                                              videos=(KEY,), seed=1))
    exp = expected_frames(ds.root)
    assert nearest(frame_at(ds, KEY, 1, 4 / 30), exp) == 14


def test_thumbnails_and_strip(v30):
    assert thumbnail(v30, KEY, 0, max_side=32).shape == (24, 32, 3)
    frames = strip(v30, KEY, 2, n=4)
    assert len(frames) == 4 and frames[0][1] == 0.0
    exp = expected_frames(v30.root)
    assert [nearest(f, exp) for f, _ in frames] == [27, 33, 38, 44]  # nearest frames to t = 0, 17/90, 34/90, 17/30 s
    thumbs = camera_thumbnails(v30, 1)
    assert isinstance(thumbs[KEY], np.ndarray)


def test_absent_video_is_one_sentence():
    ds = open_dataset(SO101)
    with pytest.raises(DatasetError) as err:
        frame_at(ds, "observation.images.front", 0, 0.0)
    assert "absent" in err.value.what
    thumbs = camera_thumbnails(ds, 0)
    assert all(isinstance(v, str) and "absent" in v for v in thumbs.values())


def test_unreadable_video_is_one_sentence(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(DatasetError, match="unreadable"):
        decode_frame(bad, 0.0)


def test_image_feature_frames(tmp_path):
    """Datasets that store camera frames as PNG bytes in the parquet (`image` dtype) get thumbnails too."""
    import io
    import json

    import pyarrow as pa
    from PIL import Image

    root = write_synthetic_dataset(tmp_path / "img", episodes=2, frames=[6, 8], environment_state=False)
    data = root / "data/chunk-000/file-000.parquet"
    t = pq.read_table(data)
    pngs = []
    for i in range(t.num_rows):
        buf = io.BytesIO()
        Image.fromarray(np.full((12, 16, 3), i * 10, dtype=np.uint8)).save(buf, format="PNG")
        pngs.append({"bytes": buf.getvalue(), "path": None})
    col = pa.array(pngs, type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    pq.write_table(t.append_column("image", col), data)
    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["image"] = {"dtype": "image", "shape": [12, 16, 3], "names": ["height", "width", "channel"]}
    (root / "meta/info.json").write_text(json.dumps(info))
    ds = open_dataset(root)
    assert ds.image_keys() == ["image"] and ds.problems == ()
    from studio.video import image_at

    img = image_at(ds, "image", 1, 2 / 30)  # episode 1 starts at global frame 6 → frame 8
    assert img.shape == (12, 16, 3) and int(img[0, 0, 0]) == 80
    thumbs = camera_thumbnails(ds, 0)
    assert int(thumbs["image"][0, 0, 0]) == 30  # middle of episode 0 (6 frames → frame 3)
