"""`hsc-jax data crop-heads`: labelled head crops from tiny synthetic videos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import build_tiny_deimv2

from hsc_infer.crops import clamp_box, face_to_head
from hsc_infer.detectors import Detection
from hsc_jax.data.cli import data
from hsc_jax.data.crop_heads import crop_heads, video_label

FRAMES, HEIGHT, WIDTH = 10, 64, 80
# Rows [class_id, x1, y1, x2, y2, score]: the best head is 40 x 32 px at (20, 16); a weaker head,
# a head under the 0.35 threshold and a stronger non-head (class 0) must all lose to it.
ROWS = [
    [7, 0.25, 0.25, 0.75, 0.75, 0.9],
    [7, 0.0, 0.0, 0.2, 0.2, 0.5],
    [7, 0.5, 0.5, 1.0, 1.0, 0.2],
    [0, 0.0, 0.0, 1.0, 1.0, 0.99],
]
BEST = (20, 16, 60, 48)


def write_video(path: Path, frames: int = FRAMES) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((HEIGHT, WIDTH, 3), 20 * i, dtype=np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    for name in ("smiling_a.mp4", "no_smiling_b.mp4", "other.mp4"):
        write_video(folder / name)
    (folder / "smiling_notes.txt").write_text("not a video")
    return folder


@pytest.fixture(scope="module")
def detector_model(tmp_path_factory) -> Path:
    return build_tiny_deimv2(tmp_path_factory.mktemp("models") / "deimv2.onnx", np.array(ROWS))


def run(videos: Path, output: Path, model: Path | None, *extra: str):
    args = ["crop-heads", "--input-dir", str(videos), "--output-dir", str(output)]
    if model is not None:
        args += ["--detector-model", str(model)]
    return CliRunner().invoke(data, [*args, *extra])


def crops(output: Path) -> list[str]:
    return sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file())


def test_video_label_checks_no_smiling_first_and_ignores_case():
    assert video_label("no_smiling_1.mp4") == "no_smiling"
    assert video_label("Smiling2.AVI") == "smiling"
    assert video_label("NO_SMILING.mkv") == "no_smiling"
    assert video_label("other.mp4") is None


def test_crops_every_nth_frame_named_for_build(videos, detector_model, tmp_path):
    output = tmp_path / "root" / "train"
    result = run(videos, output, detector_model, "--frame-step", "3")
    assert result.exit_code == 0, result.output
    frames = (0, 3, 6, 9)
    assert crops(output) == sorted(
        [f"smiling/smiling_a_f{i:06d}.png" for i in frames]
        + [f"no_smiling/no_smiling_b_f{i:06d}.png" for i in frames]
    )
    image = cv2.imread(str(output / "smiling" / "smiling_a_f000003.png"))
    assert image.shape == (BEST[3] - BEST[1], BEST[2] - BEST[0], 3)
    assert "wrote 8 crops" in result.output
    assert "20 frames read, 8 sampled" in result.output
    assert "skipped 1 videos" in result.output and "other.mp4" in result.output

    parquet = tmp_path / "set.parquet"
    built = CliRunner().invoke(
        data, ["build", "--root", str(tmp_path / "root"), "--output", str(parquet)]
    )
    assert built.exit_code == 0, built.output
    frame = pd.read_parquet(parquet)
    assert set(frame["video_id"]) == {"smiling_a", "no_smiling_b"}
    assert sorted(frame.loc[frame["video_id"] == "smiling_a", "timestamp"]) == list(frames)
    assert set(frame.groupby("video_id")["label"].first().items()) == {
        ("smiling_a", "smiling"),
        ("no_smiling_b", "no_smiling"),
    }


@pytest.mark.parametrize(
    ("bounds", "kept"),
    [(("32", "40"), True), (("33", "750"), False), (("6", "39"), False)],
)
def test_crops_outside_the_size_range_are_dropped(videos, detector_model, tmp_path, bounds, kept):
    lo, hi = bounds
    extra = ["--frame-step", "5", "--min-dimension", lo, "--max-dimension", hi]
    result = run(videos, tmp_path / "out", detector_model, *extra)
    assert result.exit_code == 0, result.output
    assert len(crops(tmp_path / "out")) == (4 if kept else 0)
    assert ("dropped 4 crops" in result.output) is not kept


def test_dry_run_counts_and_writes_nothing(videos, detector_model, tmp_path):
    output = tmp_path / "out"
    result = run(videos, output, detector_model, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would write 4 crops" in result.output  # frames 0 and 5 of two videos
    assert not output.exists()


def test_existing_crops_are_kept_unless_overwrite(videos, detector_model, tmp_path):
    output = tmp_path / "out"
    assert run(videos, output, detector_model).exit_code == 0
    marked = output / "smiling" / "smiling_a_f000005.png"
    marked.write_bytes(b"kept")

    again = run(videos, output, detector_model)
    assert again.exit_code == 0, again.output
    assert "wrote 0 crops" in again.output and "kept 4 existing crops" in again.output
    assert marked.read_bytes() == b"kept"

    forced = run(videos, output, detector_model, "--overwrite")
    assert forced.exit_code == 0, forced.output
    assert "wrote 4 crops" in forced.output
    assert cv2.imread(str(marked)) is not None
    assert not list(output.rglob("*.tmp-*"))


def test_faces_are_grown_to_head_boxes(videos, tmp_path):
    face = (30, 24, 50, 44)

    def face_detector(frame: np.ndarray) -> list[Detection]:
        return [Detection(face, 1.0, "face"), Detection((0, 0, 8, 8), 0.2, "face")]

    report = crop_heads(videos, tmp_path / "out", face_detector, frame_step=10)
    assert report.total("written") == 2
    x1, y1, x2, y2 = clamp_box(face_to_head(face), (HEIGHT, WIDTH))
    image = cv2.imread(str(tmp_path / "out" / "smiling" / "smiling_a_f000000.png"))
    assert image.shape == (y2 - y1, x2 - x1, 3)


def test_frames_without_a_head_are_counted(videos, tmp_path):
    report = crop_heads(videos, tmp_path / "out", lambda frame: [], frame_step=2)
    assert (report.total("sampled"), report.total("no_head"), report.total("written")) == (
        10,
        10,
        0,
    )
    assert "10 without a head" in report.format()


def test_clear_errors(videos, detector_model, tmp_path):
    missing = run(tmp_path / "nowhere", tmp_path / "out", detector_model)
    assert missing.exit_code != 0 and "is not a folder" in missing.output

    only_other = tmp_path / "only_other"
    only_other.mkdir()
    write_video(only_other / "other.mp4", frames=2)
    none = run(only_other, tmp_path / "out", detector_model)
    assert none.exit_code != 0 and "no videos named smiling*" in none.output

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "smiling_bad.mp4").write_bytes(b"not a video at all")
    bad = run(broken, tmp_path / "out", detector_model)
    assert bad.exit_code != 0 and "smiling_bad.mp4" in bad.output

    a_file = tmp_path / "a_file"
    a_file.write_text("")
    clash = run(videos, a_file, detector_model)
    assert clash.exit_code != 0 and "is not a folder" in clash.output
    assert not list(tmp_path.glob("out*"))


def test_default_detector_runs_without_a_model(videos, tmp_path):
    result = run(videos, tmp_path / "out", None)  # Haar cascade: no face in flat frames
    assert result.exit_code == 0, result.output
    assert "wrote 0 crops" in result.output and "4 sampled, 4 without a head" in result.output


def test_videos_sharing_a_stem_are_refused(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    write_video(folder / "smiling_x.mp4", frames=2)
    write_video(folder / "smiling_x.avi", frames=2)
    with pytest.raises(ValueError, match="share a name stem"):
        crop_heads(folder, tmp_path / "out", lambda frame: [])


def test_a_gpu_provider_falls_back_to_the_cpu_where_there_is_none(videos, detector_model, tmp_path):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA: nothing falls back")
    output = tmp_path / "train"
    result = run(videos, output, detector_model, "--frame-step", "5", "-ep", "tensorrt")
    assert result.exit_code == 0, result.output
    assert len(crops(output)) == 4  # frames 0 and 5 of each labelled 10-frame video
