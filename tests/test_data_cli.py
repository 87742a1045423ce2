"""`hsc-jax data build | synth | inspect` through click's runner."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hsc_jax.data.build import parse_frame_name
from hsc_jax.data.cli import data
from hsc_jax.data.dataset import load_dataset

FERPLUS = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ferplus" / "ferplus.parquet"
)


def draw(path: Path, value: int, suffix: str = ".png") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full((12, 10, 3), value, dtype=np.uint8)
    image[2:5, 3:7] = 255 - value  # something other than a flat field
    ok, buffer = cv2.imencode(suffix if suffix.lower() != ".jpeg" else ".jpg", image)
    assert ok
    path.write_bytes(buffer.tobytes())


def make_tree(root: Path) -> None:
    draw(root / "train" / "smiling" / "clipA_f000012.png", 10)
    draw(root / "train" / "smiling" / "clipA_f000024.png", 20)
    draw(root / "Train" / "no_smiling" / "still.JPG", 30, ".jpg")
    draw(root / "validation" / "no_smiling" / "clipB_f000003.jpeg", 40, ".jpeg")
    draw(root / "test" / "smiling" / "x.png", 50)
    (root / "train" / "smiling" / "notes.txt").write_text("ignored")
    (root / "other" / "smiling").mkdir(parents=True)


def test_parse_frame_name():
    assert parse_frame_name("my_video_f000123") == ("my_video", 123)
    assert parse_frame_name("frame_f12") == (None, None)
    assert parse_frame_name("still") == (None, None)


def test_build_writes_the_tree_with_bytes_and_provenance(tmp_path):
    root = tmp_path / "crops"
    make_tree(root)
    output = tmp_path / "out" / "set.parquet"
    result = CliRunner().invoke(data, ["build", "--root", str(root), "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert "wrote 5 rows" in result.output
    frame = pd.read_parquet(output).set_index("filename")
    assert list(frame.columns) == [
        "split", "image_path", "image_bytes", "class_id", "label", "source",
        "video_id", "timestamp", "person_id",
    ]  # fmt: skip
    assert frame.loc["clipA_f000024.png", "video_id"] == "clipA"
    assert frame.loc["clipA_f000024.png", "timestamp"] == 24
    assert frame.loc["clipA_f000024.png", "image_path"] == "train/smiling/clipA_f000024.png"
    assert pd.isna(frame.loc["still.JPG", "video_id"]) and pd.isna(
        frame.loc["still.JPG", "timestamp"]
    )
    assert frame.loc["still.JPG", "split"] == "train" and frame.loc["still.JPG", "class_id"] == 0
    assert frame.loc["clipB_f000003.jpeg", "split"] == "val"
    assert frame.loc["x.png", "label"] == "smiling" and frame.loc["x.png", "source"] == "crops"
    assert frame.loc["x.png", "image_bytes"] == (root / "test" / "smiling" / "x.png").read_bytes()
    assert [p.name for p in output.parent.iterdir()] == ["set.parquet"]  # no temp file left

    ds = load_dataset(output, image_size=(12, 10))
    assert [len(s) for s in ds.splits.values()] == [3, 1, 1]
    assert len(set(ds.splits["train"].groups.tolist())) == 2  # both clipA frames form one group


def test_build_reports_undecodable_files(tmp_path):
    root = tmp_path / "crops"
    make_tree(root)
    (root / "train" / "smiling" / "broken.png").write_bytes(b"\x89PNG truncated")
    output = tmp_path / "set.parquet"
    result = CliRunner().invoke(data, ["build", "--root", str(root), "--output", str(output)])
    assert result.exit_code != 0
    assert "train/smiling/broken.png: cannot decode" in result.output
    assert "Traceback" not in result.output and not output.exists()

    args = ["build", "--root", str(root), "--output", str(output), "--skip_bad_rows"]
    result = CliRunner().invoke(data, args)
    assert result.exit_code == 0, result.output
    assert "skipped 1 undecodable files" in result.output
    assert len(pd.read_parquet(output)) == 5


def test_build_without_a_tree_says_what_it_expected(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(
        data, ["build", "--root", str(tmp_path / "empty"), "--output", str(tmp_path / "o.parquet")]
    )
    assert result.exit_code != 0
    assert "expected ROOT/<train|validation|val|test>/<smiling|no_smiling>" in result.output
    result = CliRunner().invoke(
        data, ["build", "--root", str(tmp_path / "nope"), "--output", str(tmp_path / "o.parquet")]
    )
    assert result.exit_code != 0 and "is not a folder" in result.output


def test_inspect_reports_counts_duplicates_and_problems(tmp_path):
    same = cv2.imencode(".png", np.full((6, 4), 9, np.uint8))[1].tobytes()
    colour = cv2.imencode(".png", np.zeros((5, 5, 3), np.uint8))[1].tobytes()
    pd.DataFrame(
        {
            "split": ["train", "train", "Validation", "test", "unassigned", "odd", "train"],
            "image_bytes": [same, colour, same, same, colour, colour, b"junk"],
            "class_id": [0, 1, 1, 0, 1, 1, 0],
            "image_path": [None, None, None, None, None, None, "j.png"],
        }
    ).to_parquet(tmp_path / "d.parquet")
    result = CliRunner().invoke(data, ["inspect", str(tmp_path / "d.parquet")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "7 rows" in out
    assert "train                 1           1           2" in out
    assert "unassigned            0           1           1" in out
    assert "left out (unknown split): {'odd': 1}" in out
    assert "groups: 3" in out  # the six readable rows form two byte-identical sets; junk alone
    assert "6x4 grey: 3" in out and "5x5 colour: 3" in out
    assert "2 sets of byte-identical images covering 6 rows; 1 span splits; 1 carry both" in out
    assert "copies of train images: val 1, test 1" in out
    assert "problems: 1 bad rows" in out and "row 6 (j.png): cannot decode" in out


def test_inspect_fails_cleanly_on_missing_columns_and_files(tmp_path):
    pd.DataFrame({"split": ["train"], "class_id": [0]}).to_parquet(tmp_path / "d.parquet")
    result = CliRunner().invoke(data, ["inspect", str(tmp_path / "d.parquet")])
    assert result.exit_code != 0
    assert "lacks required column(s): image_bytes or image_path" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(data, ["inspect", str(tmp_path / "absent.parquet")])
    assert result.exit_code != 0 and "dataset not found" in result.output


def test_synth_command_prints_counts(tmp_path):
    output = tmp_path / "synth.parquet"
    result = CliRunner().invoke(
        data, ["synth", "--output", str(output), "--count", "8", "--seed", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 8 rows" in result.output and output.exists()


@pytest.mark.shared
def test_inspect_ferplus_matches_its_provenance():
    if not FERPLUS.exists():
        pytest.skip(f"FERPlus is not available at {FERPLUS} (../shared/data is absent)")
    result = CliRunner().invoke(data, ["inspect", str(FERPLUS)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "31,373 rows" in out
    assert "train            17,761       7,284      25,045" in out
    assert "val               2,329         862       3,191" in out
    assert "test              2,245         892       3,137" in out
    assert "1,249 sets of byte-identical images covering 2,739 rows; 457 span splits" in out
    assert "copies of train images: val 231, test 232" in out
    assert "problems: none" in out


@pytest.mark.shared
def test_ferplus_loads_the_leak_free_test_split():
    if not FERPLUS.exists():
        pytest.skip(f"FERPlus is not available at {FERPLUS} (../shared/data is absent)")
    ds = load_dataset(FERPLUS)
    # The 2,904 rows of (test & ~label_conflict & ~md5.isin(train md5)), see PROVENANCE.md.
    assert len(ds.splits["test"]) == 2904
    assert len(ds.splits["train"]) == 25045 - 25  # train rows whose copies carry both labels


def test_build_takes_only_the_extensions_asked_for(tmp_path):
    root = tmp_path / "crops"
    make_tree(root)
    draw(root / "train" / "smiling" / "extra.bmp", 60, ".bmp")
    output = tmp_path / "set.parquet"
    runner = CliRunner()
    result = runner.invoke(
        data, ["build", "--root", str(root), "--output", str(output), "--extensions", "PNG, .bmp"]
    )
    assert result.exit_code == 0, result.output
    names = sorted(pd.read_parquet(output)["filename"])
    assert names == ["clipA_f000012.png", "clipA_f000024.png", "extra.bmp", "x.png"]
    result = runner.invoke(data, ["build", "--root", str(root), "--output", str(output)])
    assert "wrote 6 rows" in result.output  # by default every image suffix, .bmp included
    result = runner.invoke(
        data, ["build", "--root", str(root), "--output", str(output), "--extensions", "tif"]
    )
    assert result.exit_code == 1 and "*.tif" in result.output
