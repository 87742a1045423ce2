"""SmileClassifier on tiny ONNX graphs built here: contract reading, batching, errors."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from helpers import build_custom_graph, build_tiny_classifier

from hsc_infer import ModelContract, SmileClassifier
from hsc_infer.errors import ContractError

helper, TP = onnx.helper, onnx.TensorProto


def expected_prob(value: int) -> float:
    """The tiny model's output for a uniform crop of `value` (RGB, /255)."""
    return float(1 / (1 + np.exp(-(value / 255 * 8 - 4))))


@pytest.fixture(scope="module")
def plain_model(tmp_path_factory):
    return build_tiny_classifier(tmp_path_factory.mktemp("m") / "plain.onnx", input_size=(40, 32))


class CountingSession:
    def __init__(self, session):
        self.session, self.calls = session, 0

    def run(self, *args, **kwargs):
        self.calls += 1
        return self.session.run(*args, **kwargs)


def test_reference_defaults_without_metadata(plain_model):
    clf = SmileClassifier(plain_model)
    assert clf.contract == ModelContract(input_size=(40, 32))
    assert clf.contract.colour_mode == "rgb" and clf.contract.crop_kind == "head"
    assert clf.contract.crop_margin == 0.0 and clf.contract.scale == pytest.approx(1 / 255)
    assert clf.threshold == 0.5


def test_contract_read_from_metadata(tmp_path):
    contract = ModelContract(input_size=(48, 48), threshold=0.7, crop_kind="face", crop_margin=0.1)
    path = build_tiny_classifier(tmp_path / "meta.onnx", contract=contract)
    clf = SmileClassifier(str(path))
    assert clf.contract == contract
    assert clf.threshold == 0.7
    assert SmileClassifier(path, threshold=0.2).threshold == 0.2


def test_contract_size_must_match_graph(tmp_path):
    path = build_tiny_classifier(
        tmp_path / "bad.onnx", input_size=(48, 48), contract=ModelContract(input_size=(64, 64))
    )
    with pytest.raises(ContractError, match=r"input_size \(64, 64\).*\(48, 48\)"):
        SmileClassifier(path)


def test_predict_mixed_sizes_in_one_run(plain_model):
    clf = SmileClassifier(plain_model)
    clf.session = CountingSession(clf.session)
    values = [0, 60, 128, 200, 255]
    shapes = [(10, 10), (40, 32), (100, 7), (3, 300), (64, 64)]
    crops = [np.full((*s, 3), v, np.uint8) for v, s in zip(values, shapes, strict=True)]
    probs = clf.predict(crops)
    assert clf.session.calls == 1
    assert probs.dtype == np.float32 and probs.shape == (5,)
    np.testing.assert_allclose(probs, [expected_prob(v) for v in values], atol=1e-5)
    assert clf(crops[2]).shape == (1,)  # __call__, one crop
    np.testing.assert_array_equal(clf.is_smiling(probs), probs >= 0.5)


def test_preprocess_postprocess(plain_model):
    clf = SmileClassifier(plain_model)
    batch = clf.preprocess([np.zeros((5, 5, 3), np.uint8)] * 2)
    assert batch.shape == (2, 3, 40, 32) and batch.dtype == np.float32
    assert clf.postprocess(np.array([[0.25], [0.5]]), 2).tolist() == [0.25, 0.5]


def test_empty_list_gives_empty_result(plain_model):
    assert SmileClassifier(plain_model).predict([]).shape == (0,)


@pytest.mark.parametrize(
    ("crop", "error", "message"),
    [
        (np.zeros((0, 10, 3), np.uint8), ValueError, "empty crop"),
        (np.zeros((10, 10, 3), np.float32), TypeError, "expected dtype uint8, got float32"),
        (np.zeros((10, 10), np.uint8), ValueError, r"expected shape \(H, W, 3\)"),
        (np.zeros((10, 10, 1), np.uint8), ValueError, r"expected shape \(H, W, 3\)"),
    ],
)
def test_bad_crops_have_clear_errors(plain_model, crop, error, message):
    clf = SmileClassifier(plain_model)
    with pytest.raises(error, match=message):
        clf.predict([np.zeros((8, 8, 3), np.uint8), crop])


def test_other_names_and_rank2_output_accepted(tmp_path):
    path = build_tiny_classifier(
        tmp_path / "named.onnx", input_name="input", output_name="output", output_rank=2
    )
    clf = SmileClassifier(path)
    probs = clf.predict([np.full((20, 20, 3), 255, np.uint8)] * 3)
    np.testing.assert_allclose(probs, [expected_prob(255)] * 3, atol=1e-5)


def test_fixed_batch_one_graph_still_predicts_lists(tmp_path):
    path = build_tiny_classifier(tmp_path / "b1.onnx", static_batch=1)
    probs = SmileClassifier(path).predict([np.zeros((9, 9, 3), np.uint8)] * 3)
    np.testing.assert_allclose(probs, [expected_prob(0)] * 3, atol=1e-5)


def _identity(tmp_path, name, in_shape, out_shape, elem=TP.FLOAT):
    return build_custom_graph(
        tmp_path / name,
        [("images", elem, in_shape)],
        [("prob_smiling", elem, out_shape)],
        [helper.make_node("Identity", ["images"], ["prob_smiling"])],
    )


@pytest.mark.parametrize(
    ("in_shape", "out_shape", "elem"),
    [
        (["b", 1, 48, 48], ["b", 1, 48, 48], TP.FLOAT),  # one channel, 4-D output
        (["b", 3, "h", "w"], ["b"], TP.FLOAT),  # dynamic H and W
        (["b", 3, 48, 48], ["b"], TP.INT64),  # not float
    ],
)
def test_wrong_graph_is_rejected_naming_expected_and_received(tmp_path, in_shape, out_shape, elem):
    path = _identity(tmp_path, "wrong.onnx", in_shape, out_shape, elem)
    with pytest.raises(ContractError, match=r"expected one input 'images'.*received inputs"):
        SmileClassifier(path)


def test_two_outputs_rejected(tmp_path):
    path = build_custom_graph(
        tmp_path / "two.onnx",
        [("images", TP.FLOAT, ["b", 3, 8, 8])],
        [("a", TP.FLOAT, ["b", 3, 8, 8]), ("b", TP.FLOAT, ["b", 3, 8, 8])],
        [
            helper.make_node("Identity", ["images"], ["a"]),
            helper.make_node("Identity", ["images"], ["b"]),
        ],
    )
    with pytest.raises(ContractError, match="outputs \\['a'.*'b'"):
        SmileClassifier(path)


def test_missing_models_raise_file_not_found(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="not found"):
        SmileClassifier(tmp_path / "nope.onnx")
    with pytest.raises(FileNotFoundError, match="shipped model names: p, s"):
        SmileClassifier("x")
    monkeypatch.setattr("hsc_infer.zoo.MODELS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="default model .* is missing"):
        SmileClassifier()


def test_unloadable_model_is_wrapped(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(ContractError, match="could not load ONNX model") as info:
        SmileClassifier(path)
    assert info.value.__cause__ is not None


def test_flip_test_averages_each_crop_with_its_mirror_in_one_run():
    plain = SmileClassifier("s")  # the shipped S: unlike the tiny graphs, not mirror-symmetric
    flipped = SmileClassifier("s", flip_test=True)
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (60, 50, 3), dtype=np.uint8) for _ in range(3)]
    mirrors = [np.ascontiguousarray(c[:, ::-1]) for c in crops]
    straight, mirrored = plain.predict(crops), plain.predict(mirrors)
    assert np.abs(straight - mirrored).max() > 1e-4  # the test would not see a missing flip
    flipped.session = CountingSession(flipped.session)
    np.testing.assert_allclose(flipped.predict(crops), (straight + mirrored) / 2, atol=1e-6)
    assert flipped.session.calls == 1
