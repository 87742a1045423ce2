"""ONNX export: parity with JAX for every backbone, head and stem, graph hygiene, contract, CLI.

Four small models cover the variants (3 backbones, 4 heads, 3 colour stems, a 64x48 input);
each is built and compiled once per module and exported at several opsets.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from flax import nnx
from helpers import build_tiny_deimv2, run_demo_without_jax, write_synthetic_video
from onnx import helper, numpy_helper

from hsc_infer.contract import CONTRACT_METADATA_KEY, ModelContract
from hsc_jax.export import ExportMismatchError, build_onnx, export_named_size, export_onnx
from hsc_jax.export.convert import export_ready_copy, jax_probabilities
from hsc_jax.export.graph_fixes.batch_norms import remove_batch_norms
from hsc_jax.export.graph_fixes.validity import default_opset
from hsc_jax.export.verify import max_differences, onnx_session
from hsc_jax.models import ModelConfig, create_model

TOLERANCE = 1e-4
SMALL = dict(base_channels=8, num_blocks=3, dropout=0.3)
# name -> (model config, image size (H, W)); together: every backbone, head and colour stem.
CONFIGS = {
    "baseline_avg_y": (dict(SMALL, arch_variant="baseline", rgb_to_yuv_to_y=True), (48, 48)),
    "inverted_avgmax_lab_64x48": (
        dict(SMALL, arch_variant="inverted_se", rgb_to_lab=True),
        (64, 48),
    ),
    "convnext_transformer_luv": (dict(SMALL, arch_variant="convnext", rgb_to_luv=True), (48, 48)),
    "inverted_mixer_64x48": (
        dict(SMALL, arch_variant="inverted_se", head_variant="mlp_mixer"),
        (64, 48),
    ),
}


class Prepared:
    """An export-ready model and its compiled JAX reference, built once per config."""

    def __init__(self, name: str):
        config, self.image_size = CONFIGS[name]
        self.model = create_model(ModelConfig(**config), image_size=self.image_size, seed=0)
        self.ready = export_ready_copy(self.model)
        self.reference = jax_probabilities(self.ready)


@pytest.fixture(scope="module")
def prepared():
    cache: dict[str, Prepared] = {}

    def get(name: str) -> Prepared:
        if name not in cache:
            cache[name] = Prepared(name)
        return cache[name]

    return get


def assert_clean_graph(proto: onnx.ModelProto, opset: int) -> None:
    ops = {node.op_type for node in proto.graph.node}
    assert "BatchNormalization" not in ops
    assert "Dropout" not in ops
    assert default_opset(proto) == opset
    onnx.checker.check_model(proto, full_check=True)
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "images" and out.name == "prob_smiling"
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims[0] == "batch" and dims[1] == 3
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["batch"]


@pytest.mark.slow
@pytest.mark.parametrize("opset", [17, 18])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_float32_export_matches_jax(prepared, name, opset):
    p = prepared(name)
    proto = build_onnx(p.ready, p.image_size, opset)
    assert_clean_graph(proto, opset)
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim[2:]]
    assert tuple(dims) == p.image_size
    differences = max_differences(proto, p.reference, p.image_size, batch_sizes=(7, 1))
    assert max(differences.values()) <= TOLERANCE, differences


@pytest.mark.parametrize(
    "name,opset", [("convnext_transformer_luv", 21), ("inverted_avgmax_lab_64x48", 23)]
)
def test_newer_opsets(prepared, name, opset):
    p = prepared(name)
    proto = build_onnx(p.ready, p.image_size, opset)
    assert_clean_graph(proto, opset)
    differences = max_differences(proto, p.reference, p.image_size, batch_sizes=(7, 1))
    assert max(differences.values()) <= TOLERANCE, differences


def test_export_onnx_writes_contract_and_forces_eval(prepared, tmp_path):
    p = prepared("baseline_avg_y")
    p.model.train()  # the export must still use the running statistics and no dropout
    contract = ModelContract(input_size=p.image_size, threshold=0.37, crop_margin=0.1)
    report = export_onnx(p.model, p.image_size, contract, tmp_path / "m.onnx")
    norms = [m for _, m in nnx.iter_modules(p.model) if isinstance(m, nnx.BatchNorm)]
    assert norms and not any(m.use_running_average for m in norms)  # caller's model untouched
    p.model.eval()
    assert report.path.is_file() and report.opset == 17
    assert max(report.max_abs_diff.values()) <= TOLERANCE and set(report.max_abs_diff) == {7, 1}
    proto = onnx.load(str(report.path))
    assert_clean_graph(proto, 17)
    (text,) = [e.value for e in proto.metadata_props if e.key == CONTRACT_METADATA_KEY]
    stored = ModelContract.from_json(text)
    assert stored.threshold == pytest.approx(0.37) and stored.crop_margin == pytest.approx(0.1)
    assert stored.model_config == ModelConfig(**CONFIGS["baseline_avg_y"][0]).to_dict()
    assert stored.tool_version and stored.input_size == p.image_size
    images = np.random.default_rng(3).random((5, 3, *p.image_size), dtype=np.float32)
    (got,) = onnx_session(str(report.path)).run(None, {"images": images})
    np.testing.assert_allclose(got, p.reference(images), atol=TOLERANCE)
    assert not list(tmp_path.glob(".*.tmp"))


def test_failed_verification_writes_nothing(prepared, tmp_path):
    p = prepared("baseline_avg_y")
    with pytest.raises(ExportMismatchError, match="no file was written"):
        export_onnx(p.model, p.image_size, None, tmp_path / "m.onnx", tolerance=-1.0)
    assert list(tmp_path.iterdir()) == []


def _bn_graph(consumer: str) -> onnx.ModelProto:
    """x (B, 4) -> BatchNormalization -> Gemm (4 -> 2) or Relu."""
    rng = np.random.default_rng(0)
    tensors = {
        "gamma": rng.random(4) + 0.5,
        "beta": rng.random(4),
        "mean": rng.random(4),
        "var": rng.random(4) + 0.1,
        "w": rng.standard_normal((2, 4)),
        "c": rng.standard_normal(2),
    }
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in tensors.items()]
    nodes = [helper.make_node("BatchNormalization", ["x", "gamma", "beta", "mean", "var"], ["bn"])]
    if consumer == "Gemm":
        nodes.append(helper.make_node("Gemm", ["bn", "w", "c"], ["y"], transB=1, beta=0.5))
        out_shape = ["B", 2]
    else:
        nodes.append(helper.make_node("Relu", ["bn"], ["y"]))
        out_shape = ["B", 4]
    graph = helper.make_graph(
        nodes,
        "bn",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["B", 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, out_shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("consumer", ["Gemm", "Relu"])
def test_batch_norm_removal_keeps_numbers(consumer):
    original = _bn_graph(consumer)
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    (expected,) = onnx_session(original).run(None, {"x": x})
    rewritten = remove_batch_norms(_bn_graph(consumer))
    ops = [n.op_type for n in rewritten.graph.node]
    assert ops == (["Gemm"] if consumer == "Gemm" else ["Mul", "Add", "Relu"])
    onnx.checker.check_model(rewritten, full_check=True)
    (got,) = onnx_session(rewritten).run(None, {"x": x})
    np.testing.assert_allclose(got, expected, atol=1e-5)


# --- the command line and the pure-onnxruntime consumer ---------------------------------------


def _run_cli(args: list[str]):
    from hsc_jax.cli import main

    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_cli_refuses_a_missing_checkpoint(tmp_path):
    from hsc_jax.cli import main

    result = CliRunner().invoke(
        main,
        ["export", "--checkpoint", str(tmp_path / "nope"), "--output", str(tmp_path / "m.onnx")],
    )
    assert result.exit_code != 0
    assert "checkpoint" in result.output and "does not exist" in result.output
    assert not (tmp_path / "m.onnx").exists()


@pytest.fixture(scope="module")
def cli_export(prepared, tmp_path_factory):
    """A model-only checkpoint (threshold 0.42) exported by `hsc-jax export --threshold 0.25`."""
    from hsc_jax.train.checkpoint import save_model_checkpoint

    p = prepared("baseline_avg_y")
    p.model.eval()
    root = tmp_path_factory.mktemp("cli_export")
    config = ModelConfig(**CONFIGS["baseline_avg_y"][0])
    contract = ModelContract(input_size=p.image_size, threshold=0.42, model_config=config.to_dict())
    checkpoint = save_model_checkpoint(
        root / "hsc_epoch_0001", p.model, config, p.image_size, contract=contract
    )
    output = root / "hsc.onnx"
    result = _run_cli(
        ["export", "--checkpoint", str(checkpoint), "--output", str(output), "--threshold", "0.25"]
    )
    assert result.exit_code == 0, result.output
    p.checkpoint = checkpoint
    return p, output, result.output


def test_cli_threshold_overrides_the_checkpoint(cli_export):
    p, output, log = cli_export
    assert "opset 17" in log and "max |onnxruntime - JAX|" in log
    proto = onnx.load(str(output))
    assert_clean_graph(proto, 17)
    text = {e.key: e.value for e in proto.metadata_props}[CONTRACT_METADATA_KEY]
    assert ModelContract.from_json(text).threshold == pytest.approx(0.25)
    images = np.random.default_rng(5).random((4, 3, *p.image_size), dtype=np.float32)
    (got,) = onnx_session(str(output)).run(None, {"images": images})
    np.testing.assert_allclose(got, p.reference(images), atol=TOLERANCE)


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["--fp16", "--int8"])
def test_reduced_precision_reports_accuracy_change(cli_export, tmp_path, flag):
    from hsc_jax.data.synth import write_synthetic_parquet

    p, _, _ = cli_export
    data = tmp_path / "synth.parquet"
    write_synthetic_parquet(data, count=60, seed=0)
    output = tmp_path / "reduced.onnx"
    args = ["export", "--checkpoint", str(p.checkpoint), "--output", str(output), flag]
    result = _run_cli([*args, "--calibration_data", str(data)])
    assert result.exit_code == 0, result.output
    assert "validation accuracy" in result.output and flag[2:] in result.output
    proto = onnx.load(str(output))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert CONTRACT_METADATA_KEY in {e.key for e in proto.metadata_props}
    images = np.random.default_rng(5).random((4, 3, *p.image_size), dtype=np.float32)
    (got,) = onnx_session(str(output)).run(None, {"images": images})
    np.testing.assert_allclose(got, p.reference(images), atol=0.05)


def test_exported_model_runs_in_the_demo_without_jax(cli_export, tmp_path):
    _, hsc, _ = cli_export
    frames = 4
    video = write_synthetic_video(tmp_path / "in.mp4", frames=frames)
    detector = build_tiny_deimv2(
        tmp_path / "deimv2.onnx", np.array([[7, 0.10, 0.25, 0.40, 0.75, 0.9]])
    )
    out = tmp_path / "out"
    result = run_demo_without_jax(
        [
            "-v",
            video,
            "-hm",
            hsc,
            "-m",
            detector,
            "--headless",
            "--confirm-hits",
            "1",
            "--output-dir",
            out,
        ]
    )
    assert result.returncode == 0, result.stderr.decode()
    lines = [json.loads(x) for x in (out / "output.jsonl").read_text().splitlines()]
    assert len(lines) == frames
    for line in lines:
        (head,) = line["heads"]
        assert 0.0 <= head["prob"] <= 1.0
    assert Path(out / "output.mp4").is_file()


def test_named_size_graph_is_transpose_free(tmp_path):
    """The zoo's graph (size p) is op for op what a PyTorch export would be: no layout shuffles."""
    report = export_named_size("p", tmp_path)
    assert report.path == tmp_path / "hsc_p_48x48.onnx"
    assert max(report.max_abs_diff.values()) <= TOLERANCE
    proto = onnx.load(str(report.path))
    ops = {node.op_type for node in proto.graph.node}
    assert ops <= {
        "Conv", "Sigmoid", "Mul", "Add", "Relu", "GlobalAveragePool", "GlobalMaxPool",
        "Flatten", "Concat", "Gemm", "Reshape",
    }, ops  # fmt: skip
    assert_clean_graph(proto, 17)


def _gelu_graph(opset: int) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Gelu", ["x"], ["y"])],
        "gelu",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["B", 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["B", 4])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_simplify_refuses_ops_newer_than_the_opset_and_falls_back(monkeypatch):
    import onnxsim

    from hsc_jax.export.simplify import SimplifyWarning, ops_newer_than_opset, simplify

    assert ops_newer_than_opset(_gelu_graph(17)) == ["Gelu"]  # Gelu arrived in opset 20
    assert ops_newer_than_opset(_gelu_graph(20)) == []
    original = _bn_graph("Relu")
    monkeypatch.setattr(onnxsim, "simplify", lambda *a, **k: (_gelu_graph(17), True))
    with pytest.warns(SimplifyWarning, match="newer than opset 17"):
        assert simplify(original) is original

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(onnxsim, "simplify", broken)
    with pytest.warns(SimplifyWarning, match="boom"):
        assert simplify(original) is original


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_models_take_their_mode_from_the_umask(tmp_path: Path, umask: int):
    """Like any file a program creates (0o666 less the umask), not mkstemp's owner-only 0o600."""
    from hsc_jax.export.exporter import write_atomically

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    previous = os.umask(umask)
    try:
        path = write_atomically(helper.make_model(graph), tmp_path / "m.onnx")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
