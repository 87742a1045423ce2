"""Distillation: `hsc-jax teacher` writes an ensemble's probabilities per image, and
`train --teacher` mixes them into the targets; a file that does not fit the data is refused."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from fakes import TINY_ARCH_FLAGS
from helpers import build_tiny_classifier

from hsc_infer import SmileClassifier
from hsc_jax.cli import main
from hsc_jax.data.dataset import load_dataset
from hsc_jax.data.settings import DEFAULTS
from hsc_jax.data.synth import write_synthetic_parquet
from hsc_jax.errors import ConfigError
from hsc_jax.train import teacher
from hsc_jax.train.config import TrainConfig
from hsc_jax.train.loops import training_targets


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("teacher")
    parquet = root / "synthetic.parquet"
    write_synthetic_parquet(parquet, 120, seed=3)
    other = root / "other.parquet"
    write_synthetic_parquet(other, 40, seed=4)
    # Two teachers that see the images at different sizes.
    bright = build_tiny_classifier(root / "bright.onnx")
    small = build_tiny_classifier(root / "small.onnx", input_size=(32, 32))
    output = root / "teacher.parquet"
    result = CliRunner().invoke(
        main,
        ["teacher", "--data_root", str(parquet), "--model", str(bright), "--model", str(small)]
        + ["--output", str(output)],
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "the mean of 2 model(s) on 120 images" in result.output
    return {"parquet": parquet, "other": other, "bright": bright, "small": small, "file": output}


def test_the_file_holds_the_models_mean_for_every_image(data):
    table = pq.read_table(data["file"])
    assert table.num_rows == 120
    recorded = json.loads(table.schema.metadata[teacher.TEACHER_KEY])
    assert recorded["models"] == [str(data["bright"]), str(data["small"])]
    by_path = dict(zip(table["path"].to_pylist(), table["prob_smiling"].to_pylist(), strict=True))
    each = []
    for model in (data["bright"], data["small"]):
        classifier = SmileClassifier(model)
        split = load_dataset(data["parquet"], classifier.contract.input_size, DEFAULTS)
        split = split.splits["train"]
        probs = classifier.predict(list(split.images[np.arange(len(split))][:, :, :, ::-1]))
        each.append(dict(zip(split.paths, probs, strict=True)))
    for path in each[0]:
        assert by_path[path] == pytest.approx((each[0][path] + each[1][path]) / 2, abs=1e-6)
    assert len(each[0]) > 50  # the train split alone is most of the file


def _config(data, **settings) -> TrainConfig:
    return TrainConfig(data_root=str(data["parquet"]), **settings)


def test_targets_mix_the_label_with_the_teacher(data):
    split = load_dataset(data["parquet"], (48, 48), DEFAULTS).splits["train"]
    plain = training_targets(split, _config(data))
    np.testing.assert_array_equal(plain, split.labels)
    mixed = training_targets(split, _config(data, teacher=str(data["file"]), teacher_weight=0.3))
    # Each image's probability looked up in the file by its own path.
    table = pq.read_table(data["file"])
    by_path = dict(zip(table["path"].to_pylist(), table["prob_smiling"].to_pylist(), strict=True))
    pairs = zip(split.labels, split.paths, strict=True)
    expected = [0.7 * label + 0.3 * by_path[path] for label, path in pairs]
    np.testing.assert_allclose(mixed, expected, atol=1e-6)
    assert mixed.dtype == np.float32 and not np.array_equal(mixed, plain)


def test_a_file_made_from_other_data_is_refused_naming_it(data):
    split = load_dataset(data["other"], (48, 48), DEFAULTS).splits["train"]
    with pytest.raises(ConfigError) as raised:
        teacher.teacher_probabilities(data["file"], split)
    message = str(raised.value)
    assert f"--teacher {data['file']} (made for {data['parquet']})" in message
    assert f"no probability for {len(split)} of the {len(split)} training images" in message


def test_images_with_other_pixels_under_the_same_names_are_refused(data, tmp_path):
    frame = pd.read_parquet(data["parquet"])

    def touched(png: bytes) -> bytes:
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        image[0, 0] = 255 - image[0, 0]
        return cv2.imencode(".png", image)[1].tobytes()

    frame["image_bytes"] = frame["image_bytes"].map(touched)
    changed = tmp_path / "changed.parquet"
    frame.to_parquet(changed)
    split = load_dataset(changed, (48, 48), DEFAULTS).splits["train"]
    known = set(pq.read_table(data["file"])["path"].to_pylist())
    assert all(path in known for path in split.paths)  # the same names
    with pytest.raises(ConfigError, match=rf"no probability for {len(split)} of the {len(split)}"):
        teacher.teacher_probabilities(data["file"], split)


def test_a_moved_dataset_still_matches_by_its_pixels(data, tmp_path):
    moved = tmp_path / "moved.parquet"
    moved.write_bytes(data["parquet"].read_bytes())
    original = load_dataset(data["parquet"], (48, 48), DEFAULTS).splits["train"]
    split = load_dataset(moved, (48, 48), DEFAULTS).splits["train"]
    np.testing.assert_array_equal(
        teacher.teacher_probabilities(data["file"], split),
        teacher.teacher_probabilities(data["file"], original),
    )


def test_a_file_whose_labels_differ_is_refused(data, tmp_path):
    table = pq.read_table(data["file"])
    flipped = pa.array(1 - table["label"].to_numpy(), pa.int32())
    wrong = tmp_path / "flipped.parquet"
    pq.write_table(table.set_column(table.column_names.index("label"), "label", flipped), wrong)
    split = load_dataset(data["parquet"], (48, 48), DEFAULTS).splits["train"]
    with pytest.raises(ConfigError, match=rf"{wrong}.* {len(split)} training images carry another"):
        teacher.teacher_probabilities(wrong, split)


def test_a_probability_outside_0_1_is_refused_naming_the_row(data, tmp_path):
    table = pq.read_table(data["file"])
    probs = table["prob_smiling"].to_numpy().copy()
    probs[7] = 1.5
    bad = tmp_path / "bad.parquet"
    column = table.column_names.index("prob_smiling")
    pq.write_table(table.set_column(column, "prob_smiling", pa.array(probs)), bad)
    split = load_dataset(data["parquet"], (48, 48), DEFAULTS).splits["train"]
    with pytest.raises(ConfigError, match=rf"{bad}: row 7 .* probability 1.5"):
        teacher.teacher_probabilities(bad, split)


def test_train_distils_records_the_teacher_and_keeps_it_on_resume(data, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--data_root", str(data["parquet"]), "--output_dir", str(run)]
    args += ["--batch_size", "16", "--max_steps_per_epoch", "2", *TINY_ARCH_FLAGS]
    args += ["--teacher", str(data["file"]), "--teacher_weight", "0.4"]
    result = CliRunner().invoke(main, [*args, "--epochs", "1"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    meta = json.loads(next(run.glob("hsc_epoch_0001/meta.json")).read_text())
    recorded = meta["train_config"]
    assert (recorded["teacher"], recorded["teacher_weight"]) == (str(data["file"]), 0.4)
    # A resumed run keeps its teacher, whatever --teacher the command line now names.
    other = args[: args.index("--teacher")] + ["--teacher", str(data["bright"])]
    result = CliRunner().invoke(main, [*other, "--epochs", "2", "--resume", "auto"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    resumed = json.loads(next(run.glob("hsc_epoch_0002/meta.json")).read_text())
    recorded = resumed["train_config"]
    assert (recorded["teacher"], recorded["teacher_weight"]) == (str(data["file"]), 0.4)


def test_a_missing_teacher_file_is_named(data, tmp_path):
    result = CliRunner().invoke(
        main,
        ["train", "--data_root", str(data["parquet"]), "--output_dir", str(tmp_path / "r")]
        + ["--teacher", str(tmp_path / "none.parquet")],
    )
    assert result.exit_code == 1
    assert f"--teacher {tmp_path / 'none.parquet'} is not a file" in result.output
    assert not (tmp_path / "r").exists()
