"""all-MiniLM-L6-v2's encoder as an ONNX graph, built in memory from its safetensors weights.

No exported model file is needed (and no torch to export one): the graph is the BERT encoder
written out op by op (embeddings, then per layer self-attention, the feed-forward with the exact
erf GELU, each followed by a residual LayerNorm). onnxruntime runs it with its weights packed
once at load, which for a short question is three to four times faster than numpy, whose
matrix products re-pack the weights on every call. Pooling stays with the caller, in numpy.
The weight matrices are not serialised into the model: `build` returns them beside it, and the
caller hands them to onnxruntime as external initializers (serialising them costs half a second).

Inputs: `ids` (batch, tokens) int64, `positions` (tokens) int64 and `bias` (batch, 1, 1, tokens)
float32, 0 for a real token and a large negative for padding. Output: `hidden`, the last layer's
states (batch, tokens, hidden size).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float32]
LARGE = 4096  # constants of this many values or more are passed to onnxruntime as external data
Weights = Mapping[str, Array]


class _Builder:
    def __init__(self) -> None:
        from onnx import helper

        self.helper = helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.external: dict[str, Array] = {}

    def const(self, name: str, value: object) -> str:
        from onnx import TensorProto, numpy_helper

        array = np.asarray(value)
        if array.size < LARGE:
            self.initializers.append(numpy_helper.from_array(array, name))
            return name
        # A weight matrix: declared in the graph, its data handed to onnxruntime separately, so
        # that 90 MB of weights are not serialised into the model and parsed back out.
        tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=array.shape)
        tensor.data_location = TensorProto.EXTERNAL
        for key, text in (("location", "memory"), ("offset", "0"), ("length", str(array.nbytes))):
            tensor.external_data.add(key=key, value=text)
        self.initializers.append(tensor)
        self.external[name] = np.ascontiguousarray(array, dtype=np.float32)
        return name

    def op(self, kind: str, *inputs: str, **attributes: Any) -> str:
        out = f"t{len(self.nodes)}"
        self.nodes.append(self.helper.make_node(kind, list(inputs), [out], **attributes))
        return out

    def dense(self, x: str, weight: Array, bias: Array, name: str) -> str:
        """x @ W + b, with W stored (out, in) as PyTorch keeps it."""
        w = self.const(f"{name}.w", np.ascontiguousarray(weight.T))
        return self.op("Add", self.op("MatMul", x, w), self.const(f"{name}.b", bias))

    def linear(self, x: str, w: Weights, prefix: str) -> str:
        """The layer stored as PREFIX.weight and PREFIX.bias."""
        return self.dense(x, w[f"{prefix}.weight"], w[f"{prefix}.bias"], prefix)

    def norm(self, x: str, w: Weights, prefix: str, eps: float) -> str:
        gamma = self.const(f"{prefix}.g", w[f"{prefix}.weight"])
        beta = self.const(f"{prefix}.b", w[f"{prefix}.bias"])
        return self.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=eps)


def build(weights: Weights, config: Mapping[str, Any]) -> tuple[bytes, dict[str, Array]]:
    """The serialised ONNX model (opset 17) of the encoder these weights and config describe,
    and its weight matrices by name, for `SessionOptions.add_external_initializers`."""
    from onnx import TensorProto

    b = _Builder()
    dim, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    head = dim // heads
    eps = float(config.get("layer_norm_eps", 1e-12))
    e = "embeddings"
    x = b.op(
        "Add",
        b.op("Gather", b.const("words", weights[f"{e}.word_embeddings.weight"]), "ids"),
        b.op("Gather", b.const("places", weights[f"{e}.position_embeddings.weight"]), "positions"),
    )
    x = b.op("Add", x, b.const("type", weights[f"{e}.token_type_embeddings.weight"][0]))
    x = b.norm(x, weights, f"{e}.LayerNorm", eps)
    split_heads = b.const("split_heads", np.array([0, 0, heads, head], np.int64))
    join_heads = b.const("join_heads", np.array([0, 0, dim], np.int64))
    thirds = b.const("thirds", np.array([dim, dim, dim], np.int64))
    scale = b.const("scale", np.float32(1.0 / math.sqrt(head)))
    half, one = b.const("half", np.float32(0.5)), b.const("one", np.float32(1.0))
    root_half = b.const("root_half", np.float32(1.0 / math.sqrt(2.0)))
    for n in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{n}"
        a = f"{p}.attention"
        qkv_w = np.concatenate([weights[f"{a}.self.{k}.weight"] for k in ("query", "key", "value")])
        qkv_b = np.concatenate([weights[f"{a}.self.{k}.bias"] for k in ("query", "key", "value")])
        qkv = b.dense(x, qkv_w, qkv_b, f"{a}.qkv")
        q, k, v = (f"{p}.q", f"{p}.k", f"{p}.v")
        b.nodes.append(b.helper.make_node("Split", [qkv, thirds], [q, k, v], axis=2))
        q = b.op("Transpose", b.op("Reshape", q, split_heads), perm=[0, 2, 1, 3])
        k = b.op("Transpose", b.op("Reshape", k, split_heads), perm=[0, 2, 3, 1])
        v = b.op("Transpose", b.op("Reshape", v, split_heads), perm=[0, 2, 1, 3])
        scores = b.op("Add", b.op("Mul", b.op("MatMul", q, k), scale), "bias")
        context = b.op("MatMul", b.op("Softmax", scores, axis=-1), v)
        context = b.op("Reshape", b.op("Transpose", context, perm=[0, 2, 1, 3]), join_heads)
        attended = b.linear(context, weights, f"{a}.output.dense")
        x = b.norm(b.op("Add", x, attended), weights, f"{a}.output.LayerNorm", eps)
        up = b.linear(x, weights, f"{p}.intermediate.dense")
        # GELU, the exact one: 0.5 x (1 + erf(x / sqrt 2)).
        gelu = b.op(
            "Mul", b.op("Mul", up, half), b.op("Add", b.op("Erf", b.op("Mul", up, root_half)), one)
        )
        down = b.linear(gelu, weights, f"{p}.output.dense")
        x = b.norm(b.op("Add", x, down), weights, f"{p}.output.LayerNorm", eps)
    b.nodes.append(b.helper.make_node("Identity", [x], ["hidden"]))
    graph = b.helper.make_graph(
        b.nodes,
        "all-MiniLM-L6-v2",
        [
            b.helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "tokens"]),
            b.helper.make_tensor_value_info("positions", TensorProto.INT64, ["tokens"]),
            b.helper.make_tensor_value_info("bias", TensorProto.FLOAT, ["batch", 1, 1, "tokens"]),
        ],
        [b.helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "tokens", dim])],
        b.initializers,
    )
    model = b.helper.make_model(graph, opset_imports=[b.helper.make_opsetid("", 17)])
    serialised: bytes = model.SerializeToString()
    return serialised, b.external
