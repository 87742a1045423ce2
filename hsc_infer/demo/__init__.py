"""The webcam / video / image-folder smile demo (`python -m hsc_infer.demo`), an application
built on the `hsc_infer` library; the library never imports it.

    app         the loop: capture -> detect -> classify -> track/smooth -> draw -> write
    args        the command line (the reference's flags, plus ours)
    capture     what -v names, the capture's FPS, the frame reader thread
    pipeline    per-frame results with track ids and smoothed labels
    tracking    greedy IoU tracker
    smoothing   the sticky long/short-history label per track
    motion      boxes carried with the image between detector runs
    drawing     head boxes, labels, ids, distances, latency and FPS
    output      output.jsonl lines, YOLO text, output.mp4 on a thread
    stages      per-stage times and the loop's FPS
    wholebody   the DEIMv2 wholebody34 rendering (view: its flags and keys)
"""
