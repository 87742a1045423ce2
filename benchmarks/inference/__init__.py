"""Inference speed: latency and throughput, the demo's FPS, the GPU check."""
