"""Training speed: the step (models, profile), the step's memory (memory), the input pipeline,
streaming, synthetic data, end to end against the reference (vs_reference)."""
