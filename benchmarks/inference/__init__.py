"""Inference speed: latency and throughput (latency), the demo's FPS (demo), `predict --detect`
over a folder of photographs (predict_detect), the GPU check (gpu)."""
