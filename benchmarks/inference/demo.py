"""The whole demo loop at camera speed: FPS, per-stage ms, and what detecting every Nth frame
costs in recall and smile accuracy on moving faces.

    .venv/bin/python -m benchmarks.inference.demo                # the demo's defaults, N = 1..4
    .venv/bin/python -m benchmarks.inference.demo --detectors yunet haar --every 1 2 --rounds 3
    xvfb-run -a .venv/bin/python -m benchmarks.inference.demo --window    # also with a window
    .venv/bin/python -m benchmarks.inference.demo --detectors yunet haar --threads 1 2 --no-threads
    .venv/bin/python -m benchmarks.inference.demo --wall --rounds 3  # the bar: a process per run

Builds a 640x480, 30 FPS clip (mp4v, in a temporary folder) from the face-path benchmark's
backgrounds with leak-free FERPlus test faces drifting across them
(`benchmarks.face_path.clips.compose_clip`), then runs `python -m hsc_infer.demo` headless on it
(writing output.mp4 and output.jsonl, as a user would) with the shipped S model, once per setting
and round, settings in turn. For each setting it prints the loop's FPS (frames / wall time, reading
and writing included), the mean ms of each stage, and, from output.jsonl, recall of the true faces
(IoU >= 0.3), false boxes per frame and per-frame smile accuracy on the faces found. The load
(`uptime`) before and after goes with the table. Results: README (Speed) and
docs/face-path-benchmark.md.

`--wall` measures what a user waits for instead: a 300-frame clip holding two faces throughout
(`two_face_clip`), run as `python -m hsc_infer.demo --headless` in a new process per round, with
its FPS the frames over the process's whole wall time, start-up (imports, model loading)
included.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import cv2
import numpy as np

from benchmarks.face_path.clips import ClipTruth, compose_clip, drift
from benchmarks.face_path.frames import (
    BACKGROUNDS,
    SKIN_TONES_BGR,
    background_frame,
    leak_free_test_faces,
    paste_face,
    skimage_photos,
)
from benchmarks.face_path.report import match
from benchmarks.face_path.run import FERPLUS
from benchmarks.support import machine_line, print_figures, uptime
from hsc_infer.demo import app
from hsc_infer.demo.stages import STAGES, StageTimes
from hsc_infer.detectors import Detection
from hsc_infer.detectors.yunet import DEFAULT_DETECT_WIDTH, DEFAULT_THREADS

CLIP_FPS = 30.0
# What a setting of None (not passed) means: the demo's YuNet defaults, recorded with the figures.
DEMO_DEFAULTS = {"detector_width": DEFAULT_DETECT_WIDTH, "detector_threads": DEFAULT_THREADS}
WALL_COLUMNS = ["detector_width", "detect_every", "detector_threads", "detector_thread"]


def write_clip(
    path: Path, faces: Sequence[np.ndarray], labels: np.ndarray, segments: int, seed: int
) -> list[ClipTruth]:
    """The segments clip (`clips.compose_clip`), 640x480 at `CLIP_FPS`, written to `path`
    (mp4v); each frame's truth."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), CLIP_FPS, (640, 480))
    truths = []
    for frame, truth in compose_clip(faces, labels, skimage_photos(), segments, seed=seed):
        writer.write(frame)
        truths.append(truth)
    writer.release()
    return truths


def two_face_clip(
    path: Path,
    faces: Sequence[np.ndarray],
    labels: np.ndarray,
    frames: int = 300,
    seed: int = 0,
) -> list[ClipTruth]:
    """A 640x480 clip of two FERPlus faces (100-160 px) drifting and bouncing over one
    background photograph for `frames` frames, written to `path` (mp4v)."""
    rng = np.random.default_rng(seed)
    photos = skimage_photos()
    names = [n for n in BACKGROUNDS if n in photos]
    background = background_frame(photos[names[int(rng.integers(len(names)))]], rng)
    sides = rng.integers(100, 161, size=2)
    # Left and right halves to start with, so the two never overlap at the first frame.
    xy = np.array([[40.0, 150.0], [360.0, 150.0]]) + rng.uniform(0, 60, size=(2, 2))
    velocity = rng.uniform(-3.0, 3.0, size=(2, 2))
    tones = [np.asarray(SKIN_TONES_BGR[i], np.float32) for i in rng.integers(4, size=2)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), CLIP_FPS, (640, 480))
    truths = []
    for _ in range(frames):
        frame = background.copy()
        boxes = []
        for i in range(2):
            boxes.append(drift(xy[i], velocity[i], int(sides[i]), (480, 640)))
            paste_face(frame, faces[i], boxes[-1], tones[i])
        writer.write(frame)
        truths.append(ClipTruth(tuple(boxes), (bool(labels[0]), bool(labels[1]))))
    writer.release()
    return truths


@dataclass(frozen=True)
class Defaults:
    """The demo as a user starts it, with every setting at its default: this checkout's, or
    `tree`'s (another checkout of the project, such as the last release's, run from there)."""

    tree: Path | None = None

    def argv(self, clip: Path, out: Path) -> list[str]:
        return ["-v", str(clip), "--headless", "--output-dir", str(out)]

    def label(self) -> str:
        return "defaults" + ("" if self.tree is None else f" of {self.tree}")


def wall_clock_run(
    setting: Setting | Defaults, clip: Path, out: Path, max_frames: int | None = None
) -> tuple[float, str]:
    """(seconds from starting `python -m hsc_infer.demo` on `clip` to its exit, the demo's own
    closing summary: loop FPS and mean ms per stage)."""
    argv = [sys.executable, "-m", "hsc_infer.demo", *setting.argv(clip, out)]
    argv += [] if max_frames is None else ["--max-frames", str(max_frames)]
    tree = getattr(setting, "tree", None)
    environ = None if tree is None else dict(os.environ, PYTHONPATH=str(tree))
    start = time.perf_counter()
    done = subprocess.run(
        argv, check=True, capture_output=True, text=True, env=environ, cwd=tree or None
    )
    seconds = time.perf_counter() - start
    summary = [line for line in done.stderr.splitlines() if " FPS over " in line]
    return seconds, summary[-1].split(": ", 1)[-1] if summary else ""


def wall_clock(
    args: argparse.Namespace, faces: Sequence[np.ndarray], labels: np.ndarray
) -> dict[str, object]:
    """Times the demo as a user waits for it (`--wall`); prints the table and returns its
    figures."""
    settings: list[Setting | Defaults] = [
        Setting("yunet", n, t, detector_width=w, detector_thread=thread)
        for w in args.widths
        for n in args.every
        for t in args.threads
        for thread in args.detector_thread
    ]
    if args.against is not None:  # first: start-up is timed on settings[0]
        settings = [Defaults(), Defaults(args.against.resolve()), *settings]
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "two_faces.mp4"
        truths = two_face_clip(clip, faces, labels, args.wall_frames, args.seed)
        before = uptime()
        seconds: dict[Setting | Defaults, list[float]] = {s: [] for s in settings}
        quality, summaries = {}, {}
        waits: dict[Setting | Defaults, list[float]] = {}
        start_up = []
        for round_ in range(args.rounds):
            # Start-up alone: the same process stopped after its first frame.
            start = Path(tmp) / f"start_{round_}"
            first, _ = wall_clock_run(settings[0], clip, start, max_frames=1)
            start_up.append(first)
            for index, setting in enumerate(settings):
                out = Path(tmp) / f"out_{round_}_{index}"
                wall, summaries[setting] = wall_clock_run(setting, clip, out)
                seconds[setting].append(wall)
                quality[setting] = score(out / "output.jsonl", truths)
                waits.setdefault(setting, []).extend(detector_waits(out / "output.jsonl"))
        after = uptime()
    print(
        f"two-face clip: {len(truths)} frames 640x480, a new demo process per run, start-up "
        f"included; {date.today()}; {machine_line()}; {args.rounds} round(s), median shown"
    )
    print(f"load before: {before}\nload after:  {after}")
    print(f"start-up (a run stopped after 1 frame): {np.median(start_up):.2f} s\n")
    print(
        "| setting | detector width | detect every | detector threads | detector thread "
        "| wall s | FPS | detector ms, median / p95 | recall | false boxes / frame "
        "| smile acc. (found) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for s in settings:
        wall = float(np.median(seconds[s]))
        recall, false, accuracy = quality[s]
        if isinstance(s, Defaults):
            shown: dict = {"setting": s.label()}
        else:
            shown = {
                "setting": "",
                "detector_width": s.detector_width,
                "detect_every": s.every,
                "detector_threads": s.detector_threads,
                "detector_thread": s.detector_thread,
            }
        cells = [
            "default" if shown.get(k) is None else shown[k] for k in list(shown)[:1] + WALL_COLUMNS
        ]
        median, p95 = np.percentile(waits[s], [50, 95]) if waits[s] else (0.0, 0.0)
        print(
            "| " + " | ".join(map(str, cells)) + f" | {wall:.2f} "
            f"| {len(truths) / wall:.1f} | {median:.1f} / {p95:.1f} | {recall:.1%} "
            f"| {false:.3f} | {accuracy:.1%} |"
        )
        rows.append(
            {
                **shown,
                "wall_s": wall,
                "fps": len(truths) / wall,
                "detector_ms_median": median,
                "detector_ms_p95": p95,
                "recall": recall,
                "false_boxes_per_frame": false,
                "smile_accuracy_found": accuracy,
                "demo_summary": summaries[s],
            }
        )
    print("\nThe demo's own summary (last round):")
    for s, summary in summaries.items():
        if isinstance(s, Defaults):
            print(f"  {s.label()}: {summary}")
            continue
        thread = "on its own thread" if s.detector_thread else "in the loop"
        width = "default" if s.detector_width is None else s.detector_width
        threads = "default" if s.detector_threads is None else s.detector_threads
        print(f"  width {width}, every {s.every}, {threads} thread(s), {thread}: {summary}")
    return {
        "clip": "two faces",
        "frames": len(truths),
        "load_before": before,
        "load_after": after,
        "start_up_s": np.median(start_up),
        "demo_defaults": DEMO_DEFAULTS,
        "settings": rows,
    }


def detector_waits(jsonl: Path) -> list[float]:
    """The loop's ms in the detector on the frames it ran on (output.jsonl's latency): the
    detector's own time when it runs in the loop, the wait for its result when it runs on its
    own thread."""
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    return [line["latency_ms"]["detector"] for line in lines if line["latency_ms"]["detector"]]


def score(jsonl: Path, truths: list[ClipTruth]) -> tuple[float, float, float]:
    """(recall, false boxes per frame, per-frame smile accuracy on found faces)."""
    faces = found = false = correct = 0
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    for line, truth in zip(lines, truths, strict=True):
        heads = line["heads"]
        boxes = [Detection(tuple(h["box"]), 1.0, kind="face") for h in heads]
        matched = match(boxes, truth.boxes)
        faces += len(truth.boxes)
        found += len(matched)
        false += len(heads) - len(matched)
        correct += sum(heads[d]["smiling"] == truth.smiling[t] for t, d in matched.items())
    return found / max(faces, 1), false / max(len(lines), 1), correct / max(found, 1)


@dataclass(frozen=True)
class Setting:
    detector: str
    every: int
    detector_threads: int | None = None  # YuNet's onnxruntime threads; None: the demo's default
    window: bool = False
    io_threads: bool = True
    detector_width: int | None = None  # None: the demo's default
    detector_thread: bool = True  # the demo's default: YuNet on its own thread, a frame ahead

    def mode(self) -> str:
        mode = "window" if self.window else "headless"
        return mode + ("" if self.io_threads else ", no I/O threads")

    def argv(self, clip: Path, out: Path) -> list[str]:
        argv = ["-v", str(clip), "-m", self.detector, "--detect-every", str(self.every)]
        argv += [] if self.detector_thread else ["--no-detector-thread"]
        argv += ["--output-dir", str(out)]
        argv += ["-dwk"] if self.window else ["--headless"]
        # None leaves a setting out, so the demo uses its own default.
        if self.detector_threads is not None:
            argv += ["--detector-threads", str(self.detector_threads)]
        if self.detector_width is not None:
            argv += ["--detector-width", str(self.detector_width)]
        return argv + ([] if self.io_threads else ["--no-io-threads"])


def run_demo(setting: Setting, clip: Path, out: Path) -> StageTimes:
    demo = app.Demo(app.build_parser().parse_args(setting.argv(clip, out)))
    demo.run()
    return demo.times


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=FERPLUS, help="ferplus.parquet")
    parser.add_argument("--detectors", nargs="+", default=["yunet"], help="-m values")
    parser.add_argument("--every", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[None],
        help=f"YuNet's onnxruntime threads (default: the demo's, {DEFAULT_THREADS})",
    )
    parser.add_argument("--seconds", type=int, default=12, help="clip length (2 s segments)")
    parser.add_argument("--rounds", type=int, default=2, help="runs per setting, interleaved")
    parser.add_argument("--window", action="store_true", help="also run with a window")
    parser.add_argument("--no-threads", action="store_true", help="also without I/O threads")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--wall", action="store_true", help="the two-face clip, whole process")
    parser.add_argument("--wall-frames", type=int, default=300)
    parser.add_argument(
        "--widths",
        type=int,
        nargs="+",
        default=[None],
        help=f"--wall: YuNet's search widths (default: the demo's, {DEFAULT_DETECT_WIDTH})",
    )
    parser.add_argument(
        "--detector-thread",
        type=lambda text: {"on": True, "off": False}[text],
        nargs="+",
        default=[True],
        metavar="{on,off}",
        help="--wall: YuNet on its own thread (on, the default) and/or in the loop (off)",
    )
    parser.add_argument(
        "--against",
        type=Path,
        default=None,
        help="--wall: also run the demo with its defaults, from this checkout and from the "
        "checkout named here (e.g. `git worktree add /tmp/before <commit>`), side by side",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    faces, labels = leak_free_test_faces(args.data)
    order = np.random.default_rng(args.seed).permutation(len(faces))
    faces, labels = [faces[i] for i in order], labels[order]
    if args.wall:
        figures = wall_clock(args, faces, labels)
        print_figures("benchmarks.inference.demo", {"args": vars(args), **figures})
        return
    settings = [
        Setting(d, n, t)
        for d in args.detectors
        for n in args.every
        for t in (args.threads if d == "yunet" else [None])
    ]
    if args.no_threads:
        settings += [replace(s, io_threads=False) for s in settings if s.every == 2]
    if args.window:
        settings += [replace(s, window=True) for s in settings if s.io_threads and s.every == 2]
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        truths = write_clip(clip, faces, labels, max(1, args.seconds // 2), args.seed)
        before = uptime()
        results: dict[Setting, list] = {s: [] for s in settings}
        for round_ in range(args.rounds):
            for index, setting in enumerate(settings):
                out = Path(tmp) / f"out_{round_}_{index}"
                times = run_demo(setting, clip, out)
                quality = None if setting.window else score(out / "output.jsonl", truths)
                results[setting].append((times, quality))
        after = uptime()

    print(
        f"clip: {len(truths)} frames 640x480 at {CLIP_FPS:g} FPS, "
        f"{sum(len(t.boxes) for t in truths)} faces; {date.today()}; {machine_line()}; "
        f"OpenCV {cv2.__version__}; {args.rounds} round(s), "
        "median shown"
    )
    print(f"load before: {before}\nload after:  {after}\n")
    stages = [s for s in STAGES if s != "display"] + (["display"] if args.window else [])
    print(
        "| detector | detect every | detector threads | mode | FPS | "
        + " | ".join(f"{s} ms" for s in stages)
        + " | recall | false boxes / frame | smile acc. (found) |"
    )
    print("|---" * (8 + len(stages)) + "|")
    rows = []
    for setting, runs in results.items():
        fps = np.median([t.loop_fps() for t, _ in runs])
        ms = [np.median([t.means().get(s, 0.0) for t, _ in runs]) for s in stages]
        quality = runs[0][1]
        cells = (
            "| - | - | - |"
            if quality is None
            else (f"| {quality[0]:.1%} | {quality[1]:.3f} | {quality[2]:.1%} |")
        )
        threads: int | str = "-"
        if setting.detector == "yunet":
            threads = "default" if setting.detector_threads is None else setting.detector_threads
        print(
            f"| {setting.detector} | {setting.every} | {threads} | {setting.mode()} | {fps:.1f} | "
            + " | ".join(f"{m:.1f}" for m in ms)
            + f" {cells}"
        )
        rows.append(
            {
                "detector": setting.detector,
                "detect_every": setting.every,
                "detector_threads": setting.detector_threads,
                "mode": setting.mode(),
                "fps": fps,
                "stage_ms": dict(zip(stages, ms, strict=True)),
                "recall": None if quality is None else quality[0],
                "false_boxes_per_frame": None if quality is None else quality[1],
                "smile_accuracy_found": None if quality is None else quality[2],
            }
        )
    print_figures(
        "benchmarks.inference.demo",
        {
            "args": vars(args),
            "clip": "segments",
            "frames": len(truths),
            "faces": sum(len(t.boxes) for t in truths),
            "opencv": cv2.__version__,
            "load_before": before,
            "load_after": after,
            "demo_defaults": DEMO_DEFAULTS,
            "settings": rows,
        },
    )


if __name__ == "__main__":
    main()
