"""FERPlus test faces pasted into colour frames: does the default detector + contract reproduce
the crops the shipped models were trained on?

    .venv/bin/python -m benchmarks.face_path.check_crops          # shipped models, all faces
    .venv/bin/python -m benchmarks.face_path.check_crops --models s my.onnx --margins 0 0.1 0.2
    .venv/bin/python -m benchmarks.face_path.check_crops --detector haar

Pastes the faces on smooth colour gradients (real backgrounds: `benchmarks.face_path.run`).
Prints, per model: faces found by the detector (default: the demo's), the detected box side
relative to the pasted face, F1 on the original crops and F1 through frame -> detector -> crop
-> classifier (a missed face counts as "not smiling"), at the model's threshold; and both F1
again on the found faces alone, which isolates how well the crop matches the training crops.
The faces are the test split as `hsc_jax.data.load_dataset` builds it (on FERPlus the
2,904-face leak-free split), so this needs the train extras; the check itself is
`frames.check_pasted_faces`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from benchmarks.face_path.frames import check_pasted_faces, leak_free_test_faces
from benchmarks.support import FERPLUS, machine_line, print_figures
from hsc_infer import SmileClassifier
from hsc_infer.detectors import DETECTOR_NAMES, load_detector
from hsc_infer.zoo import SHIPPED_MODELS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=FERPLUS, help="ferplus.parquet")
    parser.add_argument("--models", nargs="+", default=sorted(SHIPPED_MODELS), help="names/paths")
    parser.add_argument("--margins", nargs="+", type=float, default=None, help="crop margins")
    parser.add_argument("--limit", type=int, default=None, help="first N test faces only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detector", choices=DETECTOR_NAMES, default=None, help="default: demo's")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)

    faces, labels = leak_free_test_faces(args.data)
    faces, labels = faces[: args.limit], labels[: args.limit]
    detector = load_detector(args.detector)
    print(
        f"{len(faces)} leak-free FERPlus test faces in 640x480 colour frames, "
        f"{type(detector).__name__}; {machine_line()}"
    )
    models = []
    for model in args.models:
        classifier = SmileClassifier(model)
        start = time.perf_counter()
        result = check_pasted_faces(
            classifier, detector, faces, labels, seed=args.seed, margins=args.margins
        )
        seconds = time.perf_counter() - start
        paths = ", ".join(
            f"margin {m:g}: {f1:.3f} (found faces: {result.f1_path_found[m]:.3f})"
            for m, f1 in result.f1_path.items()
        )
        print(
            f"{classifier.model_path.name} (threshold {classifier.threshold:.3f}, contract margin "
            f"{classifier.contract.crop_margin:g}): found {result.found}/{result.faces} "
            f"({result.found_rate:.1%}), detected side / pasted side {result.box_scale:.2f}, "
            f"F1 direct {result.f1_direct:.3f} (found faces: {result.f1_direct_found:.3f}), "
            f"F1 through the frame {paths} ({seconds:.0f} s)"
        )
        models.append(
            {
                "model": classifier.model_path.name,
                "threshold": classifier.threshold,
                "contract_margin": classifier.contract.crop_margin,
                **asdict(result),
                "found_rate": result.found_rate,
                "seconds": seconds,
            }
        )
    print_figures(
        "benchmarks.face_path.check_crops",
        {
            "args": vars(args),
            "faces": len(faces),
            "detector": type(detector).__name__,
            "models": models,
        },
    )


if __name__ == "__main__":
    main()
