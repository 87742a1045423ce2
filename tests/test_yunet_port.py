"""The YuNet port: libfacedetection's weights read from its C++ file, the Flax network against
the shipped ONNX file, the graph's dynamic shapes, decoding and NMS, and the detections against
the C++ engine (`yuface`) on photographs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from hsc_infer.detectors.base import iou
from hsc_infer.detectors.yunet import SHIPPED_MODEL, YuNetFaceDetector
from hsc_infer.detectors.yunet_decode import (
    INPUT_NAME,
    OUTPUT_NAMES,
    YUNET_CONTRACT_KEY,
    YuNetContract,
    decode,
    nms,
    priors,
    to_input,
)
from hsc_infer.errors import ContractError

ROOT = Path(__file__).resolve().parents[1]
LIBFACEDETECTION = ROOT.parent / "shared" / "third_party" / "libfacedetection"
WEIGHTS = LIBFACEDETECTION / "facedetectcnn-data.cpp"
needs_weights = pytest.mark.skipif(
    not WEIGHTS.is_file(), reason=f"libfacedetection's weights are not at {WEIGHTS}"
)


def cells(h: int, w: int) -> int:
    return sum((h // s) * (w // s) for s in (8, 16, 32))


@pytest.fixture(scope="module")
def session():
    import onnxruntime as ort

    return ort.InferenceSession(str(SHIPPED_MODEL), providers=["CPUExecutionProvider"])


# --- the weights file --------------------------------------------------------------------------


# YuNet's parameters: the weights file's 106 arrays, less the im2col layer's 5 unused channels.
YUNET_PARAMETERS = 53_104


def test_the_network_has_yunets_parameter_count():
    import jax
    from flax import nnx

    from hsc_jax.models.yunet import YuNet

    params = jax.tree.leaves(nnx.state(YuNet(), nnx.Param))
    assert sum(p.size for p in params) == YUNET_PARAMETERS
    shipped = onnx.load(str(SHIPPED_MODEL)).graph.initializer
    assert sum(int(np.prod(t.dims)) for t in shipped if t.data_type == 1) == YUNET_PARAMETERS


@pytest.mark.shared
@needs_weights
def test_the_weights_file_holds_53_layers_in_106_arrays():
    from hsc_jax.models.yunet_weights import NUM_ARRAYS, _parse_arrays, read_weights

    layers = read_weights(WEIGHTS)
    assert len(layers) == 53
    assert len(_parse_arrays(WEIGHTS.read_text(), WEIGHTS)) == NUM_ARRAYS == 106
    assert (layers[0].channels, layers[0].num_filters, layers[0].pointwise) == (32, 16, True)
    assert sum(layer.depthwise for layer in layers) == 26
    # The im2col layer's last 5 inputs (past 9 taps x 3 colours) are padding.
    assert np.all(layers[0].weights.reshape(16, 32)[:, 27:] == 0)


@pytest.mark.shared
@needs_weights
def test_a_damaged_weights_file_is_named(tmp_path):
    from hsc_jax.errors import CheckpointError
    from hsc_jax.models.yunet_weights import read_weights

    text = WEIGHTS.read_text()
    cut = tmp_path / "cut.cpp"
    cut.write_text(text[: text.index("ConvInfoStruct")])
    with pytest.raises(CheckpointError, match=rf"{cut}.*param_pConvInfo"):
        read_weights(cut)
    short = tmp_path / "short.cpp"
    short.write_text(
        text.replace("float backbone__model0_pw_bias[16] = {0.323f,", "float x[1] = {", 1)
    )
    with pytest.raises(CheckpointError, match=rf"{short}.*declares 1 values"):
        read_weights(short)


def test_a_missing_or_foreign_weights_file_is_named(tmp_path):
    pytest.importorskip("jax")
    from hsc_jax.errors import CheckpointError
    from hsc_jax.models.yunet_weights import read_weights

    with pytest.raises(CheckpointError, match=r"cannot read YuNet weights file .*nope\.cpp"):
        read_weights(tmp_path / "nope.cpp")
    other = tmp_path / "other.cpp"
    other.write_text("int main() { return 0; }\n")
    with pytest.raises(CheckpointError, match=rf"{other}.*found 0 float arrays"):
        read_weights(other)


def test_the_im2col_kernel_is_a_3x3_conv():
    """Channel (ky * 3 + kx) * 3 + c of the C++ im2col input is tap (ky, kx), colour c."""
    pytest.importorskip("jax")
    from hsc_jax.models.yunet_weights import ConvLayer, im2col_kernel

    weights = np.zeros((16, 32), np.float32)
    weights[5, (2 * 3 + 1) * 3 + 2] = 1.0  # output 5, tap ky=2 kx=1, colour 2 (red)
    layer = ConvLayer(32, 16, False, True, weights.ravel(), np.zeros(16, np.float32))
    kernel = im2col_kernel(layer)
    assert kernel.shape == (3, 3, 3, 16)
    assert kernel[2, 1, 2, 5] == 1.0 and kernel.sum() == 1.0


# --- the network against the shipped file ----------------------------------------------------


@pytest.fixture(scope="module")
def flax_yunet():
    if not WEIGHTS.is_file():
        pytest.skip(f"libfacedetection's weights are not at {WEIGHTS}")
    pytest.importorskip("jax")
    from hsc_jax.models.yunet_weights import yunet_from_file

    return yunet_from_file(WEIGHTS)


@pytest.mark.shared
def test_the_flax_network_matches_the_shipped_onnx_file(flax_yunet, session):
    import jax

    from hsc_jax.export.yunet import PARITY_TOLERANCE, detector_fn

    images = np.random.default_rng(0).uniform(0, 255, (1, 3, 64, 96)).astype(np.float32)
    got = session.run(list(OUTPUT_NAMES), {INPUT_NAME: images})
    expected = jax.jit(detector_fn(flax_yunet))(images)
    for name, g, e in zip(OUTPUT_NAMES, got, expected, strict=True):
        assert g.shape == e.shape
        assert np.max(np.abs(g - np.asarray(e))) <= PARITY_TOLERANCE[name], name


@pytest.mark.shared
def test_export_yunet_rebuilds_the_shipped_file(tmp_path, session):
    """`hsc-jax export-yunet` on the published weights writes what hsc_infer ships."""
    pytest.importorskip("jax2onnx")
    from click.testing import CliRunner

    from hsc_jax.cli import main

    if not WEIGHTS.is_file():
        pytest.skip(f"libfacedetection's weights are not at {WEIGHTS}")
    output = tmp_path / "yunet.onnx"
    result = CliRunner().invoke(
        main, ["export-yunet", "--weights", str(WEIGHTS), "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert "opset 17" in result.output and "max |onnxruntime - JAX|" in result.output
    rebuilt = onnx.load(str(output))
    onnx.checker.check_model(rebuilt, full_check=True)
    shipped = onnx.load(str(SHIPPED_MODEL))
    assert len(rebuilt.graph.node) == len(shipped.graph.node)
    assert {p.key: p.value for p in rebuilt.metadata_props} == {
        p.key: p.value for p in shipped.metadata_props
    }


def test_export_yunet_reports_a_bad_weights_file_in_one_line(tmp_path):
    pytest.importorskip("jax2onnx")
    from click.testing import CliRunner

    from hsc_jax.cli import main

    result = CliRunner().invoke(
        main,
        ["export-yunet", "--weights", str(tmp_path / "no.cpp"), "--output", str(tmp_path / "y")],
    )
    assert result.exit_code == 1
    assert "Error: cannot read YuNet weights file" in result.output and "no.cpp" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "y").exists()


# --- the shipped graph -------------------------------------------------------------------------


def test_the_shipped_graph_is_opset_17_with_its_contract_and_licence():
    model = onnx.load(str(SHIPPED_MODEL))
    onnx.checker.check_model(model, full_check=True)
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {17}
    metadata = {p.key: p.value for p in model.metadata_props}
    contract = YuNetContract.from_json(metadata[YUNET_CONTRACT_KEY])
    assert contract.strides == (8, 16, 32) and contract.pad_multiple == 32
    assert (contract.candidate_threshold, contract.nms_iou) == (0.2, 0.45)
    assert (contract.top_k, contract.keep_top_k) == (1000, 512)
    assert contract.colour == "BGR" and "acf7b254" in contract.source and "BSD" in contract.licence
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["B", 3, "H", "W"]
    for output, rest in zip(model.graph.output, ([], [4], [10]), strict=True):
        dims = [d.dim_param or d.dim_value for d in output.type.tensor_type.shape.dim]
        assert dims == ["B", "N", *rest], output.name
    assert (SHIPPED_MODEL.parent / "yunet_face.LICENSE").read_text().count("BSD") >= 1


@pytest.mark.parametrize(
    ("batch", "h", "w"), [(1, 32, 32), (2, 64, 96), (3, 96, 64), (1, 480, 640)]
)
def test_batch_height_and_width_are_dynamic(session, batch, h, w):
    images = np.random.default_rng(1).uniform(0, 255, (batch, 3, h, w)).astype(np.float32)
    scores, boxes, landmarks = session.run(list(OUTPUT_NAMES), {INPUT_NAME: images})
    n = cells(h, w)
    assert (scores.shape, boxes.shape, landmarks.shape) == (
        (batch, n),
        (batch, n, 4),
        (batch, n, 10),
    )
    assert np.all((scores >= 0) & (scores <= 1))
    if batch > 1:  # each image on its own: the batch is only a batch
        (alone, *_) = session.run(list(OUTPUT_NAMES), {INPUT_NAME: images[1:2]})
        np.testing.assert_allclose(scores[1], alone[0], atol=1e-6)


# --- decoding ----------------------------------------------------------------------------------


def test_input_is_bgr_0_255_nchw_zero_padded_to_32():
    image = np.arange(40 * 50 * 3, dtype=np.uint32).reshape(40, 50, 3).astype(np.uint8)
    batch = to_input(image[None], 32)
    assert batch.shape == (1, 3, 64, 64) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[0, :, :40, :50], image.transpose(2, 0, 1))
    assert not batch[0, :, 40:].any() and not batch[0, :, :, 50:].any()


def test_priors_are_cell_corners_stride_by_stride_row_major():
    corners, strides = priors(32, 64, (8, 16, 32))
    assert len(corners) == cells(32, 64) == 32 + 8 + 2
    np.testing.assert_array_equal(corners[:9], [[x * 8, 0] for x in range(8)] + [[0, 8]])
    np.testing.assert_array_equal(corners[32:34], [[0, 0], [16, 0]])
    np.testing.assert_array_equal(corners[-2:], [[0, 0], [32, 0]])
    assert strides[31, 0] == 8 and strides[32, 0] == 16 and strides[-1, 0] == 32


def test_decoding_a_hand_made_cell():
    """One candidate at stride 16, cell (x=1, y=0) of a 32x64 input: its box centre is the
    prediction times the stride plus the cell's corner (no half-cell offset), its size
    exp(prediction) times the stride, its landmarks like its centre."""
    n = cells(32, 64)
    scores = np.zeros(n, np.float32)
    boxes = np.zeros((n, 4), np.float32)
    landmarks = np.zeros((n, 10), np.float32)
    cell = 32 + 1  # after the 32 cells of stride 8: stride 16, x=1, y=0
    scores[cell] = 0.9
    boxes[cell] = [0.5, 0.25, np.log(2.0), 0.0]
    landmarks[cell] = [0.0, 0.0, 1.0, 0.0, 0.5, 0.5, 0.0, 1.0, 1.0, 1.0]
    scores[0] = 0.19  # under the candidate threshold: never reported
    out = decode(scores, boxes, landmarks, (32, 64), YuNetContract())
    assert out.scores.tolist() == pytest.approx([0.9])
    # centre (0.5 * 16 + 16, 0.25 * 16 + 0) = (24, 4); size (32, 16)
    np.testing.assert_allclose(out.boxes, [[8, -4, 40, 12]], atol=1e-5)
    np.testing.assert_allclose(
        out.landmarks[0], [[16, 0], [32, 0], [24, 8], [16, 16], [32, 16]], atol=1e-5
    )


def test_a_graph_of_another_size_is_a_contract_error():
    with pytest.raises(ContractError, match=r"returned 5 cells for a 32x64 input.*give 42"):
        decode(np.zeros(5), np.zeros((5, 4)), np.zeros((5, 10)), (32, 64), YuNetContract())


def test_nms_keeps_a_box_only_when_it_overlaps_no_kept_box_by_more_than_the_threshold():
    boxes = np.array(
        [
            [0, 0, 10, 10],  # kept
            [1, 0, 11, 10],  # IoU 0.82 with the first: dropped
            [20, 0, 30, 10],  # apart: kept
            [5, 0, 15, 10],  # IoU 1/3 with the first: kept at 0.45, dropped at 0.3
            [10, 0, 20, 10],  # only touches the first and third; IoU 1/3 with the fourth
            [3, 0, 13, 10],  # IoU 0.54 with the first: dropped
        ],
        np.float32,
    )
    assert nms(boxes, 0.45).tolist() == [0, 2, 3, 4]
    assert nms(boxes, 0.3).tolist() == [0, 2, 4]  # the fourth is gone, so the fifth stays
    assert nms(boxes[:0], 0.45).tolist() == []


def test_top_k_and_keep_top_k_bound_the_candidates():
    n = cells(32, 32)
    scores = np.linspace(0.3, 0.9, n).astype(np.float32)
    zeros = np.zeros((n, 4), np.float32)
    out = decode(scores, zeros, np.zeros((n, 10), np.float32), (32, 32), YuNetContract())
    # every cell's box is its stride square at its corner: only overlapping ones are merged
    assert np.all(np.diff(out.scores) <= 0)
    few = YuNetContract(top_k=3, keep_top_k=2)
    out = decode(scores, zeros, np.zeros((n, 10), np.float32), (32, 32), few)
    assert len(out.scores) <= 2 and out.scores[0] == pytest.approx(0.9)


def test_the_contract_round_trips_and_bad_ones_are_named():
    contract = YuNetContract(source="s", licence="l")
    assert YuNetContract.from_json(contract.to_json()) == contract
    with pytest.raises(ContractError, match="m.onnx: yunet_contract is not JSON"):
        YuNetContract.from_json("{", where="m.onnx")
    with pytest.raises(ContractError, match="strides"):
        YuNetContract.from_json('{"strides": [8, 24]}')


@needs_weights
def test_weights_that_do_not_fit_the_network_name_the_file(monkeypatch):
    from hsc_jax.errors import CheckpointError
    from hsc_jax.models import yunet_weights

    def misfit(model, layers):
        raise ValueError("layer 3: kernel (1, 1, 16, 8) does not fit (1, 1, 16, 64)")

    monkeypatch.setattr(yunet_weights, "load_weights", misfit)
    with pytest.raises(CheckpointError, match=rf"{WEIGHTS}.*do not fit YuNet.*layer 3"):
        yunet_weights.yunet_from_file(WEIGHTS)


# --- the detector against the C++ engine ------------------------------------------------------


def photographs() -> dict[str, np.ndarray]:
    """scikit-image's photographs, and some with the astronaut's face pasted at 50-180 px."""
    from skimage import data

    folder = Path(data.__file__).parent
    names = ["astronaut", "camera", "coffee", "chelsea", "motorcycle_left", "coins", "gravel"]
    frames = {n: cv2.imread(str(folder / f"{n}.png"), cv2.IMREAD_COLOR) for n in names}
    face = frames["astronaut"][40:190, 150:300]
    rng = np.random.default_rng(0)
    for name in ["coffee", "chelsea", "gravel", "camera"]:
        frame = cv2.resize(frames[name], (640, 480))
        for _ in range(3):
            side = int(rng.integers(50, 180))
            x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
            frame[y : y + side, x : x + side] = cv2.resize(face, (side, side))
        frames[f"pasted_{name}"] = frame
    return frames


def as_yuface_reports(box: np.ndarray) -> np.ndarray:
    """A float x1 y1 x2 y2 box as yuface's integers: int(x1), int(y1), int(w), int(h)."""
    x1, y1 = int(box[0]), int(box[1])
    return np.array([x1, y1, x1 + int(box[2] - box[0]), y1 + int(box[3] - box[1])])


def test_the_onnx_detector_finds_what_yuface_finds():
    """Same candidates, boxes within a pixel of yuface's integers, scores within 0.01 (yuface
    truncates them to whole percent), at several search widths."""
    pytest.importorskip("yuface", reason="the yuface wheel (the C++ engine) is not installed")
    from hsc_infer.detectors.yuface_engine import YufaceSearch

    detector = YuNetFaceDetector(second_look=None)
    reference = YufaceSearch(threads=1)
    pairs, faces = 0, 0
    for name, frame in photographs().items():
        for width in (160, 320, 448, 512):
            height = round(frame.shape[0] * width / frame.shape[1])
            image = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            ours, theirs = detector.search(image), reference(image)
            where = f"{name} at {width} px"
            assert len(ours.scores) == len(theirs.scores), where
            assert np.sum(ours.scores >= 0.5) == np.sum(theirs.scores >= 0.5), where
            faces += int(np.sum(theirs.scores >= 0.5))
            for score, box, points in zip(
                theirs.scores, theirs.boxes, theirs.landmarks, strict=True
            ):
                j = int(np.argmax([iou(box, b) for b in ours.boxes]))
                assert np.abs(as_yuface_reports(ours.boxes[j]) - box).max() <= 1, where
                assert np.abs(np.trunc(ours.landmarks[j]) - points).max() <= 1, where
                assert -1e-4 <= ours.scores[j] - score < 0.01 + 1e-4, where
                pairs += 1
    assert pairs >= 50 and faces >= 30  # the comparison saw real faces, not only noise


# --- layering ----------------------------------------------------------------------------------


def test_the_detector_runs_without_jax_or_yuface():
    code = (
        "import sys; sys.modules['jax'] = None; sys.modules['yuface'] = None\n"
        "import numpy as np\n"
        "from hsc_infer.detectors import load_detector\n"
        "d = load_detector('yunet')\n"
        "print(len(d(np.zeros((120, 160, 3), np.uint8))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
