"""Face detection on camera frames: frames, scenes, conditions, clips and the report; the
runners run, run_clips, landmarks, check_crops and engines (the ONNX YuNet against yuface); the
face check study."""
