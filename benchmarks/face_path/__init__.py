"""Face detection on camera frames: scenes, conditions, clips, the report and the runners."""
