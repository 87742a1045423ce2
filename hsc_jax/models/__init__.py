"""HSC models in Flax NNX: colour stems, three backbones, five heads, PyTorch weight loading.

model = create_model(ModelConfig(...), image_size=(48, 48), seed=0)   # depthwise="auto"
load_torch_state_dict(model, state)        # {PyTorch key: array}, in place
model.eval(); logits = model(images)       # (B, H, W, 3) in [0, 1] -> (B,)
model(images, return_intermediates=True)   # {"stem", "features", "logits"}, NHWC
set_depthwise(model, "grouped")            # plain convolutions, e.g. before ONNX export
"""

from hsc_jax.models.config import ModelConfig
from hsc_jax.models.model import (
    HSCModel,
    count_parameters,
    create_model,
    feature_map_size,
    set_depthwise,
)
from hsc_jax.models.sizes import NAMED_SIZES, PARAMETER_COUNTS
from hsc_jax.models.torch_io import load_torch_state_dict, torch_key_map

__all__ = [
    "NAMED_SIZES",
    "PARAMETER_COUNTS",
    "HSCModel",
    "ModelConfig",
    "count_parameters",
    "create_model",
    "feature_map_size",
    "load_torch_state_dict",
    "set_depthwise",
    "torch_key_map",
]
