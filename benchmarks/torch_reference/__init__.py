"""The PyTorch reference-style trainer and its model (torch and numpy only)."""
