"""The demo end to end, headless, with tiny models: a synthetic video and an images folder."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from helpers import (
    build_tiny_classifier,
    build_tiny_deimv2,
    synthetic_frame,
    write_synthetic_video,
)

from hsc_infer.demo import app
from hsc_infer.demo.pipeline import HeadSmilePipeline
from hsc_infer.demo.tracking import CONFIRM_HITS, KEEP_MISSED

FRAMES = 6
HEAD_ROWS = [[7, 0.10, 0.25, 0.40, 0.75, 0.9], [7, 0.70, 0.05, 0.95, 0.35, 0.8]]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_models")
    return (
        build_tiny_classifier(root / "hsc.onnx"),
        build_tiny_deimv2(root / "deimv2.onnx", np.array(HEAD_ROWS)),
    )


def check_line(line: dict, index: int) -> None:
    assert set(line) == {"frame", "faces", "latency_ms", "heads"}
    assert line["frame"] == index and line["faces"] == len(line["heads"])
    assert set(line["latency_ms"]) == {"detector", "classifier"}
    assert all(isinstance(v, float) for v in line["latency_ms"].values())
    for head in line["heads"]:
        assert set(head) == {"track_id", "box", "prob", "smiling", "label"}
        assert head["track_id"] is None or isinstance(head["track_id"], int)
        assert len(head["box"]) == 4 and all(isinstance(v, int) for v in head["box"])
        assert isinstance(head["prob"], float) and 0 <= head["prob"] <= 1
        assert isinstance(head["smiling"], bool)
        assert head["label"] in ("Smiling", "")


def test_headless_video(models, tmp_path, caplog):
    hsc, deimv2 = models
    video = write_synthetic_video(tmp_path / "in.mp4", frames=FRAMES)
    out = tmp_path / "out"
    # Detector on every frame: the fixed boxes stay put (test_infer_motion covers carrying).
    argv = [
        "-v",
        str(video),
        "-hm",
        str(hsc),
        "-m",
        str(deimv2),
        "--headless",
        "--detect-every",
        "1",
        "--confirm-hits",
        "1",
    ]
    with caplog.at_level("INFO", logger="hsc_infer.demo"):
        assert app.main([*argv, "--output-dir", str(out), "--threshold", "0.1", "-efm"]) == 0
    summary = f"{2 * FRAMES} face(s) in {FRAMES} frame(s) (2.00 per frame, 0 frame(s) without one), {2 * FRAMES} smiling"
    assert summary in caplog.messages
    capture = cv2.VideoCapture(str(out / "output.mp4"))
    assert capture.isOpened() and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    assert int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == 320
    capture.release()
    lines = [json.loads(x) for x in (out / "output.jsonl").read_text().splitlines()]
    assert len(lines) == FRAMES
    for index, line in enumerate(lines):
        check_line(line, index)
        assert [h["track_id"] for h in line["heads"]] == [1, 2]
        assert line["heads"][0]["box"] == [32, 60, 128, 180]
        assert all(h["smiling"] for h in line["heads"])  # threshold 0.1 overrides the model's
        assert all(h["label"] == "" for h in line["heads"])  # history not yet full


def test_headless_no_writer_no_tracking(models, tmp_path):
    hsc, deimv2 = models
    video = write_synthetic_video(tmp_path / "in.mp4", frames=3)
    argv = ["-v", str(video), "-hm", str(hsc), "-m", str(deimv2), "--headless", "-dvw", "-dtk"]
    argv += ["--confirm-hits", "1"]
    assert app.main([*argv, "--output-dir", str(tmp_path / "o"), "-oyt"]) == 0
    assert not (tmp_path / "o" / "output.mp4").exists()
    lines = [json.loads(x) for x in (tmp_path / "o" / "output.jsonl").read_text().splitlines()]
    assert [h["track_id"] for h in lines[0]["heads"]] == [None, None]
    yolo = (tmp_path / "o" / "output" / "00000001.txt").read_text().splitlines()
    assert yolo[0] == "7 0.250000 0.500000 0.300000 0.500000"


def test_images_dir_mode(models, tmp_path):
    hsc, deimv2 = models
    images = tmp_path / "imgs"
    (images / "sub").mkdir(parents=True)
    cv2.imwrite(str(images / "a.png"), synthetic_frame(0))
    cv2.imwrite(str(images / "sub" / "b.JPG"), synthetic_frame(3))
    (images / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    argv = ["-i", str(images), "-hm", str(hsc), "-m", str(deimv2), "--headless", "-oyt"]
    assert app.main([*argv, "--output-dir", str(out)]) == 0
    assert cv2.imread(str(out / "output" / "a.png")).shape == (240, 320, 3)
    assert (out / "output" / "sub" / "b.JPG").is_file()
    assert len((out / "output" / "a.txt").read_text().splitlines()) == 2
    lines = [json.loads(x) for x in (out / "output.jsonl").read_text().splitlines()]
    assert len(lines) == 2
    for index, line in enumerate(lines):
        check_line(line, index)
        # No tracking across unrelated images: the label is the per-frame state.
        assert all((h["label"] == "Smiling") == h["smiling"] for h in line["heads"])


# A reference demo_hsc.py command line with every flag it knows, plus ours.
REFERENCE_COMMAND = (
    "-v 0 -m det.onnx -hm hsc_l_48x48.onnx -ep tensorrt -it int8 -dvw -dwk -ost 0.4 -ast 0.6 "
    "-kst 0.2 --body-long-history-size 8 --body-short-history-size 4 -kdm both -ebm -dnm "
    "-dgm -dlr -dhm -drc 17 18 -efm -dtk -dti -dhd -oyt -bblw 3 -chf 120 --threshold 0.6 "
    "--headless --output-dir out"
)


def refused(argv: list[str], capsys: pytest.CaptureFixture[str], message: str) -> None:
    """The demo's parser exits with status 2 and an error line holding `message`."""
    with pytest.raises(SystemExit) as exited:
        app.build_parser().parse_args(argv)
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("python -m hsc_infer.demo: error: argument") and message in error


def test_reference_flags_accepted(capsys: pytest.CaptureFixture[str]):
    args = app.build_parser().parse_args(REFERENCE_COMMAND.split(" "))
    assert args.object_score_threshold == 0.4 and args.long_history == 8
    assert args.attribute_score_threshold == 0.6
    assert args.disable_render_classids == [17, 18] and args.camera_horizontal_fov == 120
    refused(["-v", "0", "--body-short-history-size", "1"], capsys, "--body-short-history-size")
    refused(["-v", "0", "-i", "dir"], capsys, "-i/--images_dir: not allowed with argument -v")


@pytest.mark.parametrize(
    ("flag", "dest"),
    [
        ("--object_socre_threshold", "object_score_threshold"),
        ("--object_score_threshold", "object_score_threshold"),
        ("--attribute_socre_threshold", "attribute_score_threshold"),
        ("--attribute_score_threshold", "attribute_score_threshold"),
    ],
)
def test_score_thresholds_take_the_reference_spelling_and_the_right_one(flag, dest):
    args = app.build_parser().parse_args(["-v", "0", flag, "0.55"])
    assert getattr(args, dest) == 0.55


def test_confirmation_flags_reach_the_pipeline(models, tmp_path, capsys):
    hsc, deimv2 = models
    defaults = app.build_parser().parse_args(["-v", "0"])
    assert (defaults.confirm_hits, defaults.keep_missed) == (CONFIRM_HITS, KEEP_MISSED)
    refused(["-v", "0", "--confirm-hits", "0"], capsys, "--confirm-hits: expected an integer >= 1")
    refused(["-v", "0", "--keep-missed", "-1"], capsys, "--keep-missed: expected an integer >= 0")
    video = write_synthetic_video(tmp_path / "in.mp4", frames=4)
    argv = ["-v", str(video), "-hm", str(hsc), "-m", str(deimv2), "--headless", "-dvw"]
    argv += ["--detect-every", "1", "--confirm-hits", "3", "--keep-missed", "4"]
    args = app.build_parser().parse_args([*argv, "--output-dir", str(tmp_path / "o")])
    tracker = app.Demo(args).pipeline.tracker
    assert (tracker.confirm_hits, tracker.keep_missed) == (3, 4)
    assert app.main([*argv, "--output-dir", str(tmp_path / "o")]) == 0
    lines = [json.loads(x) for x in (tmp_path / "o" / "output.jsonl").read_text().splitlines()]
    # Both heads are shown from their third detection on.
    assert [[h["track_id"] for h in line["heads"]] for line in lines] == [[], [], [1, 2], [1, 2]]


def test_by_default_a_face_shows_from_the_detectors_second_run(models, tmp_path):
    hsc, deimv2 = models
    video = write_synthetic_video(tmp_path / "in.mp4", frames=6)
    argv = ["-v", str(video), "-hm", str(hsc), "-m", str(deimv2), "--headless", "-dvw"]
    assert app.main([*argv, "--output-dir", str(tmp_path / "o")]) == 0
    lines = [json.loads(x) for x in (tmp_path / "o" / "output.jsonl").read_text().splitlines()]
    # The detector runs on frames 0 and 3 (every 3rd); both heads confirm on frame 3.
    assert [len(line["heads"]) for line in lines] == [0, 0, 0, 2, 2, 2]


def test_yunet_width_and_threads_reach_the_detector(models, tmp_path, capsys):
    hsc, _ = models
    argv = ["-v", "0", "-hm", str(hsc), "-m", "yunet", "--detector-width", "320"]
    args = app.build_parser().parse_args(
        [*argv, "--detector-threads", "2", "--output-dir", str(tmp_path)]
    )
    detector = app.Demo(args).detector
    assert (detector.detect_width, detector.threads) == (320, 2)
    refused(["-v", "0", "--detector-width", "0"], capsys, "--detector-width: expected an integer")


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    assert app.main(["-v", "0", "-hm", str(tmp_path / "none.onnx"), "--headless"]) == 1
    assert "not found" in capsys.readouterr().err


def test_window_mode_keys(models, tmp_path, monkeypatch):
    hsc, deimv2 = models
    video = write_synthetic_video(tmp_path / "in.mp4", frames=FRAMES)
    keys = iter([ord("r"), ord("t"), ord("m"), ord("q")])
    shown = []
    monkeypatch.setattr(app.cv2, "imshow", lambda name, image: shown.append(image.shape))
    monkeypatch.setattr(app.cv2, "waitKey", lambda ms: next(keys))
    monkeypatch.setattr(app.cv2, "destroyAllWindows", lambda: None)
    args = app.build_parser().parse_args(
        ["-v", str(video), "-hm", str(hsc), "-m", str(deimv2), "--output-dir", str(tmp_path)]
    )
    demo = app.Demo(args)
    assert demo.run() == 4  # q on the 4th frame
    assert len(shown) == 4
    # r hides the ids (tracking and smoothing go on underneath), t the id overlay, m distances.
    assert demo.view.show_tracking is False and demo.pipeline.tracking is True
    assert demo.view.show_ids is False and demo.view.show_distance is False
    assert not (tmp_path / "output.jsonl").exists()  # only headless runs write it
    assert (tmp_path / "output.mp4").is_file()


def test_unopenable_source_hints_at_the_video_flag(tmp_path, capsys):
    # The shipped model loads, so the message is about -v, not about the model.
    argv = ["-v", str(tmp_path / "absent.mp4"), "--headless", "--output-dir", str(tmp_path)]
    assert app.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "absent.mp4" in err[0]
    assert "-v takes a camera index" in err[0] and "-hm" not in err[0]


def test_a_bug_keeps_its_traceback(models, tmp_path, monkeypatch):
    hsc, deimv2 = models
    video = write_synthetic_video(tmp_path / "in.mp4", frames=2)

    def broken(self, frame):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(HeadSmilePipeline, "__call__", broken)
    argv = ["-v", str(video), "-hm", str(hsc), "-m", str(deimv2), "--headless"]
    with pytest.raises(ZeroDivisionError, match="a bug"):
        app.main([*argv, "--output-dir", str(tmp_path)])
