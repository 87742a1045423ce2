"""Evaluation and prediction of a trained model (a checkpoint or an exported ONNX file)."""
