"""ONNX inference benchmark: latency at batch 1, throughput at batch 64, and the demo's FPS.

    python -m benchmarks.inference.latency hsc_s_48x48.onnx hsc_m_48x48.onnx
    python -m benchmarks.inference.latency --tiny     # a tiny stand-in model: proves it runs

Latency is the median of `--runs` onnxruntime runs after a warm-up, with 1 intra-op thread and
with onnxruntime's default; "predict" adds the preprocessing of a 96x96 crop, and "+flip_test"
is the same with `flip_test=True` (the crop and its mirror in one run). Throughput is
batch-64 images per second (default threads). The demo FPS runs the headless demo on a synthetic
640x480 video (no video writer): with the Haar default detector, and with a tiny DEIMv2-format
stand-in that reports two heads per frame (so it times crops, batching, tracking and drawing
around a detector that costs nothing). Needs the `onnx` package for --tiny and the stand-in,
which `benchmarks.inference.stand_ins` builds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from benchmarks.inference.stand_ins import (
    build_tiny_classifier,
    build_tiny_deimv2,
    write_synthetic_video,
)
from benchmarks.support import machine_line, median_ms, print_figures
from hsc_infer import SmileClassifier
from hsc_infer.demo.app import Demo
from hsc_infer.demo.app import build_parser as demo_parser


def bench_model(path: Path, runs: int, batch: int) -> dict[str, float]:
    row: dict[str, float] = {}
    rng = np.random.default_rng(0)
    for threads, key in ((1, "b1_1thread_ms"), (None, "b1_default_ms")):
        clf = SmileClassifier(path, intra_op_threads=threads)
        h, w = clf.signature.input_size
        one = rng.random((1, 3, h, w), dtype=np.float32).astype(clf.signature.input_dtype)
        row[key] = median_ms(lambda c=clf, x=one: c.run(x), runs)
    crop = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    row["predict_b1_ms"] = median_ms(lambda: clf.predict(crop), runs)
    flip = SmileClassifier(path, intra_op_threads=threads, flip_test=True)
    row["predict_b1_flip_ms"] = median_ms(lambda: flip.predict(crop), runs)
    many = rng.random((batch, 3, h, w), dtype=np.float32).astype(clf.signature.input_dtype)
    batch_ms = median_ms(lambda: clf.run(many), max(5, runs // 10), warmup=3)
    row["batch_img_s"] = batch / (batch_ms / 1000)
    return row


def demo_fps(model: Path, video: Path, detector: Path | None, out: Path) -> tuple[float, int]:
    argv = ["-v", str(video), "-hm", str(model), "--headless", "-dvw", "--output-dir", str(out)]
    if detector is not None:
        argv += ["-m", str(detector)]
    demo = Demo(demo_parser().parse_args(argv))  # model loading is not timed
    start = time.perf_counter()
    frames = demo.run()
    return frames / (time.perf_counter() - start), frames


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="*", type=Path, help="HSC ONNX models")
    p.add_argument("--tiny", action="store_true", help="also bench a tiny stand-in model")
    p.add_argument("--runs", type=int, default=300, help="runs per latency median")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--demo-frames", type=int, default=60, help="0: skip the demo FPS")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if not args.models and not args.tiny:
        p.error("pass ONNX models, or --tiny")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = list(args.models)
        if args.tiny:
            models.append(build_tiny_classifier(tmp / "tiny_48x48.onnx"))
        print(f"{machine_line()}  |  onnxruntime {ort.__version__}  |  batch {args.batch}")
        header = (
            f"{'model':<28} {'b1 1-thread ms':>15} {'b1 default ms':>14} "
            f"{'predict b1 ms':>14} {'+flip_test ms':>14} {f'b{args.batch} img/s':>12}"
        )
        print(header)
        print("-" * len(header))
        rows, demo = [], []
        for path in models:
            r = bench_model(path, args.runs, args.batch)
            rows.append({"model": path.name, **r})
            print(
                f"{path.name:<28} {r['b1_1thread_ms']:>15.3f} {r['b1_default_ms']:>14.3f} "
                f"{r['predict_b1_ms']:>14.3f} {r['predict_b1_flip_ms']:>14.3f} "
                f"{r['batch_img_s']:>12.0f}"
            )
        if args.demo_frames > 0:
            video = write_synthetic_video(
                tmp / "bench.mp4", frames=args.demo_frames, size=(480, 640), fps=30
            )
            heads = np.array([[7, 0.1, 0.2, 0.35, 0.6, 0.9], [7, 0.6, 0.1, 0.85, 0.5, 0.8]])
            stand_in = build_tiny_deimv2(tmp / "deimv2_stand_in.onnx", heads)
            for label, detector in (("Haar faces", None), ("DEIMv2 stand-in", stand_in)):
                fps, frames = demo_fps(models[0], video, detector, tmp / "demo_out")
                print(f"demo FPS ({models[0].name}, {label}, {frames} frames 640x480): {fps:.1f}")
                demo.append(
                    {"model": models[0].name, "detector": label, "frames": frames, "fps": fps}
                )
    print_figures(
        "benchmarks.inference.latency",
        {"args": vars(args), "onnxruntime": ort.__version__, "models": rows, "demo_fps": demo},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
