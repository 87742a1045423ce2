import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from hsc_infer.contract import ModelContract, preprocess, resize_image, scale_batch
from hsc_infer.errors import ContractError


def test_defaults_are_the_reference_release_contract() -> None:
    c = ModelContract()
    assert c.input_size == (48, 48) and c.colour_mode == "rgb" and c.channel_order == "RGB"
    assert c.scale == pytest.approx(1 / 255) and c.mean == (0, 0, 0) and c.std == (1, 1, 1)
    assert c.threshold == 0.5 and c.crop_kind == "head" and c.crop_margin == 0.0
    assert c.class_names == ("no_smiling", "smiling")


def test_json_round_trip_keeps_unknown_keys() -> None:
    c = ModelContract(input_size=(64, 48), colour_mode="grey", threshold=0.42, crop_kind="face")
    data = json.loads(c.to_json())
    data["future_key"] = 7
    back = ModelContract.from_json(json.dumps(data))
    assert back.input_size == (64, 48) and back.threshold == 0.42 and back.crop_kind == "face"
    assert back.extra == {"future_key": 7}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"colour_mode": "hsv"}, "colour_mode"),
        ({"threshold": 1.5}, "threshold"),
        ({"crop_kind": "body"}, "crop_kind"),
        ({"input_size": (0, 48)}, "input_size"),
    ],
)
def test_invalid_contract_names_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        ModelContract(**kwargs)


def test_bad_json_is_a_clear_error() -> None:
    with pytest.raises(ContractError, match="not valid JSON"):
        ModelContract.from_json("{oops")


def test_resize_uses_area_when_shrinking_and_bilinear_when_enlarging() -> None:
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    small = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    area = cv2.resize(big, (48, 48), interpolation=cv2.INTER_AREA)
    bilinear = cv2.resize(small, (48, 48), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(resize_image(big, (48, 48)), area)
    np.testing.assert_array_equal(resize_image(small, (48, 48)), bilinear)


def test_resize_mixed_axes_filters_each_axis_on_its_own() -> None:
    # A fine vertical stripe pattern: shrinking the width with area averages it to grey,
    # bilinear would alias it; the height grows and must not blur anything.
    stripes = np.tile(np.array([0, 255], dtype=np.uint8), 48)[None, :, None].repeat(20, 0)
    out = resize_image(np.repeat(stripes, 3, axis=2), (40, 48))
    assert out.shape == (40, 48, 3)
    assert np.abs(out.astype(int) - 128).max() <= 1


def test_preprocess_bgr_crops_of_any_size_to_nchw() -> None:
    crops = [np.zeros((10, 20, 3), np.uint8), np.zeros((100, 60, 3), np.uint8)]
    crops[0][..., 2] = 255  # red in BGR
    x = preprocess(crops, ModelContract(input_size=(32, 24)))
    assert x.shape == (2, 3, 32, 24) and x.dtype == np.float32
    assert x[0, 0].min() == 1.0 and x[0, 1:].max() == 0.0  # red lands in channel 0 (RGB)
    assert x[1].max() == 0.0


def test_preprocess_grey_replicates_luma() -> None:
    crop = np.zeros((48, 48, 3), np.uint8)
    crop[..., 1] = 200  # green in BGR and RGB
    x = preprocess(crop, ModelContract(colour_mode="grey"), layout="NHWC")
    assert x.shape == (1, 48, 48, 3)
    np.testing.assert_allclose(x[0, 0, 0], [round(0.587 * 200) / 255] * 3, atol=1 / 255)


def test_preprocess_applies_mean_and_std() -> None:
    batch = np.full((1, 2, 2, 3), 255, np.uint8)
    c = ModelContract(input_size=(2, 2), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    np.testing.assert_allclose(scale_batch(batch, c), 2.0)


@pytest.mark.parametrize(
    "crop, error, message",
    [
        (np.zeros((0, 5, 3), np.uint8), ContractError, "empty"),
        (np.zeros((5, 5, 3), np.float32), TypeError, "uint8"),
        (np.zeros((5, 5), np.uint8), ContractError, r"\(H, W, 3\)"),
        (np.zeros((5, 5, 4), np.uint8), ContractError, r"\(H, W, 3\)"),
    ],
)
def test_bad_crops_say_what_was_expected(crop, error, message) -> None:
    with pytest.raises(error, match=message):
        preprocess([np.zeros((5, 5, 3), np.uint8), crop], ModelContract())


def test_importing_hsc_infer_loads_no_jax() -> None:
    code = (
        "import sys, hsc_infer, hsc_infer.contract\n"
        "jax_side = {'jax', 'jaxlib', 'flax', 'optax', 'orbax', 'grain', 'jax2onnx'}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in jax_side)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
