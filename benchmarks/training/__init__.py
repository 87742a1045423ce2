"""Training speed: the step, the input pipeline, streaming, end to end against the reference."""
