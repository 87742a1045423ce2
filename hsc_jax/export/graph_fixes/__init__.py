"""Rewrites of what jax2onnx emits: valid at every opset from 17 to 23, and lean to run.

One module per kind of rewrite, run in order by `hsc_jax.export.exporter`:

* `validity`: validity at the requested opset (reduction axes, value_info, opset imports);
* `batch_norms`: inference dropouts and the batch norms onnxsim leaves, folded away;
* `transposes`: the layout Transposes that onnxruntime's optimizer (`hsc_jax.export.layout`)
  leaves around the head;
* `global_pools`: reductions over H, W as global pools.

`onnx_graph` holds the graph queries they share. The result is op for op what a PyTorch export
of the same network gives.
"""
