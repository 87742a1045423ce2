"""Bad models and images given to hsc_infer: `SmileClassifier(...)` raises a ContractError
naming the file, `python -m hsc_infer.predict` prints one `error:` line and leaves an earlier
output as it was, and unreadable images are reported by name while the rest are predicted."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from bad_inputs import png_claiming
from helpers import build_custom_graph, build_tiny_classifier

from hsc_infer import SmileClassifier, predict
from hsc_infer.contract import CONTRACT_METADATA_KEY, ModelContract
from hsc_infer.errors import ContractError

TP, helper = onnx.TensorProto, onnx.helper

EARLIER_OUTPUT = "path,prob_smiling\nearlier.png,0.5\n"


@pytest.fixture(scope="module")
def crops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crops")
    cv2.imwrite(str(folder / "bright.png"), np.full((30, 20, 3), 250, np.uint8))
    cv2.imwrite(str(folder / "dark.jpg"), np.full((20, 30, 3), 5, np.uint8))
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_classifier(tmp_path_factory.mktemp("models") / "hsc.onnx")


def _predict(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, list[str], str]:
    """(exit status, stderr lines, stdout) of `python -m hsc_infer.predict ARGS`."""
    status = predict.main(args)
    captured = capsys.readouterr()
    return status, captured.err.strip().splitlines(), captured.out


def _refused(path: Path, crops: Path, tmp_path: Path, capsys) -> str:
    """Give `path` to both entry points; return the one error line predict printed."""
    with pytest.raises(ContractError) as caught:
        SmileClassifier(path)
    assert str(path) in str(caught.value)
    output = tmp_path / "predictions.csv"
    output.write_text(EARLIER_OUTPUT)
    status, err, _ = _predict([str(crops), "-hm", str(path), "-o", str(output)], capsys)
    assert status == 2
    assert len(err) == 1 and err[0].startswith("error: ") and str(path) in err[0], err
    assert output.read_text() == EARLIER_OUTPUT
    return err[0]


# --- files that are not ONNX models ---------------------------------------------------------


def _cut(fraction: float):
    return lambda data: data[: int(len(data) * fraction)]


CORRUPT = {
    "random bytes": lambda data: np.random.default_rng(0).bytes(len(data)),
    "an empty file": lambda data: b"",
    "truncated to half": _cut(0.5),
    "truncated to 20 bytes": lambda data: data[:20],
    "truncated by one byte": lambda data: data[:-1],
}


@pytest.mark.parametrize("damage", list(CORRUPT))
def test_a_corrupt_model_file_is_refused_naming_it(model, crops, tmp_path, capsys, damage):
    path = tmp_path / "hsc.onnx"
    path.write_bytes(CORRUPT[damage](model.read_bytes()))
    assert _refused(path, crops, tmp_path, capsys).startswith(
        f"error: could not load ONNX model {path}"
    )


# --- models that are not smile classifiers --------------------------------------------------


def _identity(path: Path, in_shape: list, out_shape: list, elem=TP.FLOAT) -> Path:
    node = helper.make_node("Identity", ["images"], ["prob_smiling"])
    return build_custom_graph(
        path, [("images", elem, in_shape)], [("prob_smiling", elem, out_shape)], [node]
    )


WRONG_GRAPHS = {
    "NHWC input": (["b", 48, 48, 3], ["b", 48, 48, 3]),
    "no channel axis": (["b", 48, 48], ["b", 48, 48]),
    "one channel": (["b", 1, 48, 48], ["b", 1, 48, 48]),
    "dynamic height and width": (["b", 3, "h", "w"], ["b", 3, "h", "w"]),
    "image-shaped output": (["b", 3, 48, 48], ["b", 3, 48, 48]),
}


@pytest.mark.parametrize("case", list(WRONG_GRAPHS))
def test_a_graph_of_the_wrong_shape_is_refused_naming_the_file(case, crops, tmp_path, capsys):
    path = _identity(tmp_path / "wrong.onnx", *WRONG_GRAPHS[case])
    line = _refused(path, crops, tmp_path, capsys)
    assert line.startswith("error: not a smile classifier graph: expected one input 'images'")
    assert "received inputs ['images'" in line


def test_an_integer_input_is_refused(crops, tmp_path, capsys):
    path = _identity(tmp_path / "ints.onnx", ["b", 3, 48, 48], ["b"], TP.INT64)
    assert "tensor(int64)" in _refused(path, crops, tmp_path, capsys)


# --- the contract metadata ------------------------------------------------------------------


def test_a_model_without_contract_metadata_runs_on_the_reference_defaults(crops, tmp_path):
    """The reference release models carry no metadata: such a model loads with the reference
    contract at the size its graph takes, and predicts."""
    path = build_tiny_classifier(tmp_path / "plain.onnx", input_size=(32, 40))
    classifier = SmileClassifier(path)
    assert classifier.contract == ModelContract(input_size=(32, 40))
    output = tmp_path / "p.csv"
    assert predict.main([str(crops), "-hm", str(path), "-o", str(output)]) == 0
    with open(output, newline="") as f:
        assert len(list(csv.DictReader(f))) == 2


def _with_metadata(path: Path, text: str) -> Path:
    model = onnx.load(str(build_tiny_classifier(path)))
    helper.set_model_props(model, {CONTRACT_METADATA_KEY: text})
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "is not a valid contract"),
        ("[1, 2]", "must be a JSON object"),
        ('{"threshold": 7}', "threshold must lie in [0, 1]"),
        ('{"input_size": [64, 64]}', "input_size (64, 64) but the graph input is (48, 48)"),
    ],
)
def test_contract_metadata_that_does_not_fit_is_refused(text, words, crops, tmp_path, capsys):
    path = _with_metadata(tmp_path / "meta.onnx", text)
    assert words in _refused(path, crops, tmp_path, capsys)


# --- images that cannot be read, among ones that can ---------------------------------------


def _real_png() -> bytes:
    image = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    return cv2.imencode(".png", image)[1].tobytes()


UNREADABLE_IMAGES = {
    "garbage.png": np.random.default_rng(1).bytes(500),
    "empty.png": b"",
    "truncated.png": _real_png()[:300],
    "bomb.png": png_claiming(100_000, 100_000),
    "no_pixels.png": png_claiming(0, 0),
    "text.jpg": b"this is not a JPEG\n",
}


def test_unreadable_images_are_named_and_the_others_predicted(model, crops, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("bright.png", "dark.jpg"):
        (folder / name).write_bytes((crops / name).read_bytes())
    for name, data in UNREADABLE_IMAGES.items():
        (folder / name).write_bytes(data)
    output = tmp_path / "predictions.csv"
    status, err, _ = _predict([str(folder), "-hm", str(model), "-o", str(output)], capsys)
    assert status == 1
    with open(output, newline="") as f:
        predicted = sorted(Path(row["path"]).name for row in csv.DictReader(f))
    assert predicted == ["bright.png", "dark.jpg"]
    reported = sorted(line.removeprefix("error: cannot read image: ") for line in err[:-1])
    assert reported == sorted(str(folder / name) for name in UNREADABLE_IMAGES)
    assert err[-1] == f"2 prediction(s) from {2 + len(UNREADABLE_IMAGES)} file(s)"
    assert not any("Traceback" in line for line in err)


def test_a_model_that_fails_part_way_leaves_the_earlier_output(crops, tmp_path, capsys):
    """A graph with a fixed batch of 3 loads, then refuses the first batch of 2 crops and their
    mirror images: the run stops after the output was begun, and the earlier file must not be
    replaced by a stub."""
    path = build_tiny_classifier(tmp_path / "batch3.onnx", static_batch=3)
    output = tmp_path / "predictions.csv"
    output.write_text(EARLIER_OUTPUT)
    status, err, _ = _predict([str(crops), "-hm", str(path), "-o", str(output)], capsys)
    assert status == 2
    assert err == [
        f"error: model {path} has a fixed batch of 3; got 4 crops (each crop and its mirror "
        "image: --no-flip_test sends half as many) (export it with a dynamic batch)"
    ]
    assert output.read_text() == EARLIER_OUTPUT
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("predictions")] == [
        "predictions.csv"
    ]
    plain = SmileClassifier(path)
    with pytest.raises(ContractError, match=r"fixed batch of 3; got 2 crops \(export"):
        plain.predict([np.zeros((48, 48, 3), np.uint8)] * 2)
