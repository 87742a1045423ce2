"""python -m hsc_infer.predict: crops, --detect, videos, CSV/JSONL, unreadable files."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from helpers import build_tiny_classifier, build_tiny_deimv2, write_synthetic_video

from hsc_infer import predict

HEAD_ROWS = [[7, 0.10, 0.25, 0.40, 0.75, 0.9]]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    hsc = build_tiny_classifier(root / "hsc.onnx")
    deimv2 = build_tiny_deimv2(root / "deimv2.onnx", np.array(HEAD_ROWS))
    crops = root / "crops"
    (crops / "nested").mkdir(parents=True)
    cv2.imwrite(str(crops / "bright.png"), np.full((30, 20, 3), 250, np.uint8))
    cv2.imwrite(str(crops / "nested" / "dark.jpg"), np.full((64, 64, 3), 5, np.uint8))
    video = write_synthetic_video(root / "clip.mp4", frames=3)
    return hsc, deimv2, crops, video


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_crops_to_csv(setup, tmp_path):
    hsc, _, crops, _ = setup
    out = tmp_path / "p.csv"
    assert predict.main([str(crops), "-hm", str(hsc), "--output", str(out)]) == 0
    rows = read_csv(out)
    assert list(rows[0]) == list(predict.COLUMNS)
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in rows}
    assert set(by_name) == {"bright.png", "dark.jpg"}  # directories searched recursively
    assert by_name["bright.png"]["smiling"] == "True" and by_name["dark.jpg"]["smiling"] == "False"
    assert by_name["bright.png"]["frame"] == "" and by_name["bright.png"]["x1"] == ""
    assert float(by_name["bright.png"]["prob_smiling"]) > 0.9


def test_video_and_detect_to_jsonl(setup, tmp_path):
    hsc, deimv2, crops, video = setup
    out = tmp_path / "p.jsonl"
    argv = [str(video), str(crops / "bright.png"), "-hm", str(hsc), "-m", str(deimv2)]
    assert predict.main([*argv, "--detect", "--threshold", "0.01", "-o", str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    image_rows = [r for r in rows if r["frame"] is None]
    video_rows = [r for r in rows if r["frame"] is not None]
    assert [r["frame"] for r in video_rows] == [0, 1, 2]  # one head per frame
    assert video_rows[0]["x1"] == 32 and video_rows[0]["y2"] == 180
    assert len(image_rows) == 1 and image_rows[0]["x2"] == 8  # detected in the 20x30 image
    assert all(r["smiling"] for r in rows)


def test_the_closing_line_counts_faces_and_names_photographs_without_one(setup, tmp_path, capsys):
    hsc, deimv2, crops, video = setup
    argv = [str(video), str(crops / "bright.png"), "-hm", str(hsc), "-m", str(deimv2)]
    assert (
        predict.main([*argv, "--detect", "--threshold", "0.01", "-o", str(tmp_path / "a.csv")]) == 0
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2] == "4 face(s) found in 4 image(s) or frame(s), 4 smiling"
    # The Haar cascade finds no face in a flat image: no row, but the summary names it.
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 128, np.uint8))
    argv = [str(blank), "-hm", str(hsc), "-m", "haar", "--detect", "-o", str(tmp_path / "b.csv")]
    assert predict.main(argv) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        err[-2]
        == f"0 face(s) found in 1 image(s) or frame(s), 0 smiling; no face in 1 image(s): {blank}"
    )
    assert read_csv(tmp_path / "b.csv") == []


def test_unreadable_files_reported(setup, tmp_path, capsys):
    hsc, _, crops, _ = setup
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    argv = [str(broken), str(crops / "bright.png"), str(tmp_path / "missing.jpg"), "-hm", str(hsc)]
    assert predict.main(argv) == 1
    captured = capsys.readouterr()
    assert "cannot read image" in captured.err and "broken.png" in captured.err
    assert "missing.jpg" in captured.err
    assert len(captured.out.strip().splitlines()) == 2  # header + the readable image


def test_bad_output_suffix(setup, tmp_path, capsys):
    hsc, _, crops, _ = setup
    assert predict.main([str(crops), "-hm", str(hsc), "-o", str(tmp_path / "p.txt")]) == 2
    assert ".csv or .jsonl" in capsys.readouterr().err


def test_progress_only_for_long_inputs():
    import io

    stream = io.StringIO()
    progress = predict.Progress(3, stream)
    for _ in range(3):
        progress.advance("x")
    progress.close()
    assert stream.getvalue() == ""
    progress = predict.Progress(25, stream)
    for _ in range(25):
        progress.advance("x")
    assert "[25/25]" in stream.getvalue()


def test_a_model_that_is_not_a_classifier_is_one_error_line(setup, capsys):
    _, deimv2, crops, _ = setup
    assert predict.main([str(crops), "-hm", str(deimv2)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: not a smile classifier graph")


def test_a_bug_keeps_its_traceback(setup, monkeypatch):
    hsc, _, crops, _ = setup

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(predict, "predict_crops", broken)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        predict.main([str(crops), "-hm", str(hsc)])


def test_detect_searches_photographs_in_batches_and_keeps_each_ones_faces(
    setup, tmp_path, monkeypatch
):
    """Eleven photographs of two sizes and an unreadable file, `--detect-batch 4`: YuNet
    searches them in batches, and every readable photograph gets the face a search of it alone
    finds, in its own row."""
    from skimage import data

    from hsc_infer.detectors import YuNetFaceDetector
    from hsc_infer.frame import classify_detections

    hsc = setup[0]
    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(11):
        photo = np.roll(astronaut, 8 * i, axis=1)
        photo = cv2.resize(photo, (640, 480)) if i % 2 else photo
        cv2.imwrite(str(folder / f"{i:02d}.png"), photo)
    (folder / "05b.png").write_bytes(b"not a picture")
    runs = []
    search_batch = YuNetFaceDetector.search_batch
    monkeypatch.setattr(
        YuNetFaceDetector,
        "search_batch",
        lambda self, images: runs.append(len(images)) or search_batch(self, images),
    )
    out = tmp_path / "faces.csv"
    argv = [str(folder), "-hm", str(hsc), "--detect", "--detect-batch", "4", "-o", str(out)]
    assert predict.main(argv) == 1
    assert max(runs) > 1  # photographs of one size shared a run
    rows = read_csv(out)
    assert [r["path"].rsplit("/", 1)[-1] for r in rows] == [f"{i:02d}.png" for i in range(11)]
    detector = YuNetFaceDetector()
    classifier = predict.SmileClassifier(str(hsc))
    for row in rows:
        photo = cv2.imread(row["path"], cv2.IMREAD_COLOR)
        _, (box,), _, _ = classify_detections(photo, detector(photo), classifier)
        assert [int(row[k]) for k in ("x1", "y1", "x2", "y2")] == list(box)


@pytest.mark.parametrize("batch", ["0", "9"])
def test_a_detect_batch_outside_1_to_8_is_refused(setup, tmp_path, capsys, batch):
    hsc = setup[0]
    argv = [str(tmp_path), "-hm", str(hsc), "--detect", "--detect-batch", batch]
    assert predict.main(argv) == 2
    assert f"error: --detect-batch must be 1 to 8, got {batch}" in capsys.readouterr().err


def test_predict_averages_each_crop_with_its_mirror_unless_told_not_to(tmp_path):
    from hsc_infer import SmileClassifier
    from hsc_infer.demo.args import build_parser as demo_parser

    crop = np.zeros((48, 48, 3), np.uint8)
    crop[:, :20] = 220  # lopsided: the mirror image differs
    cv2.imwrite(str(tmp_path / "face.png"), crop)
    probs = {}
    for name, flags in (("default", []), ("no flip", ["--no-flip_test"])):
        out = tmp_path / f"{len(flags)}.csv"
        assert predict.main([str(tmp_path / "face.png"), "-hm", "s", "-o", str(out), *flags]) == 0
        probs[name] = float(read_csv(out)[0]["prob_smiling"])
    flipped = SmileClassifier("s", flip_test=True).predict(crop)[0]
    plain = SmileClassifier("s").predict(crop)[0]
    assert abs(flipped - plain) > 1e-4
    assert probs["default"] == pytest.approx(flipped, abs=1e-6)
    assert probs["no flip"] == pytest.approx(plain, abs=1e-6)
    assert demo_parser().parse_args(["-v", "0"]).flip_test is False  # it averages over frames
