"""Small ONNX models built with ``onnx.helper``, good and hostile, from a recipe kept as data.

    build({"graph": "loop", "trip_count": 10**12})           # bytes of a valid model with a huge Loop
    build({"meta": {"cnnedu.input_shape": "[3,100000,100000]"}})
    build({"graph": "tiny", "classes": ["![x](http://127.0.0.1:9/x.png)", "<b>bold</b>"]})

Every model takes a gray 1×16×16 image batch (unless the recipe says otherwise) and, unless a recipe
overrides it, carries cnnedu metadata that describes it correctly, so that exactly one thing is wrong.
Recipes (the ``graph`` key, default "tiny"):

    tiny          Flatten → MatMul → [N, K] logits (K = number of classes)
    constant      the logits plus a constant ("value": a float, e.g. NaN, or a list: one per class)
    loop          the logits pass through a Loop of ``trip_count`` steps (None: no trip count, cond true)
    loop_computed a Loop whose trip count is computed from the input's shape
    nested_loop   a Loop of ``outer`` steps whose body holds a Loop of ``inner`` steps
    scan          a Scan over a tensor made while running (ConstantOfShape of ``length``)
    if_loop       an If whose then-branch holds a Loop of ``trip_count`` steps
    recursive     a local function that calls itself
    slow          a chain of ``count`` MatMuls of ``side``×``side`` matrices made from the input (no loop)
    memory        Expand of the input to ``side``×``side`` floats (``side``² × 4 bytes)
    two_inputs    two graph inputs
    external      an initializer marked as external data
Other keys: ``classes`` (names, or a count), ``input`` (the input dims), ``elem_type`` (an onnx.TensorProto
name), ``meta`` (props to set: raw strings, or :func:`expand` recipes), ``drop_meta`` (keys to remove), ``no_meta`` (true: none).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from cnnedu.onnx.meta import ModelMeta
from cnnedu.vision.pixels import mode_for_channels

OPSET = 17
SIDE = 16


def default_props(classes: list[str], channels: int = 1, side: int = SIDE) -> dict[str, str]:
    return ModelMeta(classes=classes, input_shape=(channels, side, side), channel_order=mode_for_channels(channels),
                     mean=[0.0] * channels, std=[1.0] * channels, output="logits", arch="corpus").to_props()


def _classes(recipe: dict[str, Any]) -> list[str]:
    classes = recipe.get("classes", 4)
    return [f"c{i}" for i in range(classes)] if isinstance(classes, int) else list(classes)


def _logits(k: int, prefix: str = "") -> tuple[list[Any], list[Any]]:
    """Nodes X [N,1,16,16] → logits [N,k], and their initializers."""
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((SIDE * SIDE, k)).astype(np.float32) * 0.1,
                                prefix + "W")
    nodes = [helper.make_node("Flatten", ["X"], [prefix + "flat"], axis=1),
             helper.make_node("MatMul", [prefix + "flat", prefix + "W"], [prefix + "logits"])]
    return nodes, [w]


def _int64(name: str, value: int) -> Any:
    return numpy_helper.from_array(np.array(value, dtype=np.int64), name)


def _identity_loop(node_name: str, trip: str, cond: str, carried: str, out: str, body_nodes=()) -> tuple[Any, Any]:
    """A Loop node that hands ``carried`` through unchanged (plus ``body_nodes``) and its body graph."""
    body = helper.make_graph(
        [*body_nodes, helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["v_in"], ["v_out"])],
        node_name + "_body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None)])
    return helper.make_node("Loop", [trip, cond, carried], [out], body=body, name=node_name), body


def build(recipe: dict[str, Any]) -> bytes:
    """The bytes of the model a recipe describes."""
    kind = recipe.get("graph", "tiny")
    classes = _classes(recipe)
    k = len(classes)
    dims = recipe.get("input", ["N", 1, SIDE, SIDE])
    elem = getattr(TensorProto, recipe.get("elem_type", "FLOAT"))
    inputs = [helper.make_tensor_value_info("X", elem, dims)]
    output = "Y"
    true = numpy_helper.from_array(np.array(True), "true")
    nodes, inits = _logits(k)
    functions: list[Any] = []
    opsets = [helper.make_opsetid("", OPSET)]

    if kind == "tiny":
        nodes.append(helper.make_node("Identity", ["logits"], [output]))
    elif kind == "constant":
        value = recipe.get("value", float("nan"))  # one number for every class, or one per class
        values = [float(v) for v in value] if isinstance(value, list) else [float(value)] * k
        inits.append(numpy_helper.from_array(np.array(values, dtype=np.float32).reshape(1, k), "C"))
        nodes.append(helper.make_node("Add", ["logits", "C"], [output]))
    elif kind in ("loop", "if_loop"):
        trip = recipe.get("trip_count")
        if trip is not None:
            inits.append(_int64("M", int(trip)))
        loop, _ = _identity_loop("loop", "M" if trip is not None else "", "true", "logits",
                                 output if kind == "loop" else "looped")
        inits.append(true)
        if kind == "loop":
            nodes.append(loop)
        else:
            then = helper.make_graph([loop], "then", [], [helper.make_tensor_value_info("looped", TensorProto.FLOAT,
                                                                                         None)])
            other = helper.make_graph([helper.make_node("Identity", ["logits"], ["plain"])], "else", [],
                                      [helper.make_tensor_value_info("plain", TensorProto.FLOAT, None)])
            nodes.append(helper.make_node("If", ["true"], [output], then_branch=then, else_branch=other))
    elif kind == "loop_computed":
        nodes += [helper.make_node("Shape", ["X"], ["shape"]),
                  helper.make_node("ReduceProd", ["shape"], ["M"], keepdims=0)]
        loop, _ = _identity_loop("loop", "M", "true", "logits", output)
        inits.append(true)
        nodes.append(loop)
    elif kind == "nested_loop":
        inits += [_int64("outer", int(recipe["outer"])), _int64("inner", int(recipe["inner"])), true]
        inner, _ = _identity_loop("inner_loop", "inner", "true", "v_in", "v_inner")
        body = helper.make_graph(
            [inner, helper.make_node("Identity", ["cond_in"], ["cond_out"]),
             helper.make_node("Identity", ["v_inner"], ["v_out"])], "outer_body",
            [helper.make_tensor_value_info("i", TensorProto.INT64, []),
             helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
             helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None)],
            [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
             helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None)])
        nodes.append(helper.make_node("Loop", ["outer", "true", "logits"], [output], body=body))
    elif kind == "scan":
        inits.append(numpy_helper.from_array(np.array([int(recipe.get("length", 10**9)), 1], dtype=np.int64),
                                             "scan_shape"))
        nodes.append(helper.make_node("ConstantOfShape", ["scan_shape"], ["seq"]))
        body = helper.make_graph(
            [helper.make_node("Identity", ["s_in"], ["s_out"])], "scan_body",
            [helper.make_tensor_value_info("s_in", TensorProto.FLOAT, None),
             helper.make_tensor_value_info("x_in", TensorProto.FLOAT, [1])],
            [helper.make_tensor_value_info("s_out", TensorProto.FLOAT, None)])
        nodes.append(helper.make_node("Scan", ["logits", "seq"], [output], body=body, num_scan_inputs=1))
    elif kind == "recursive":
        body = [helper.make_node("Again", ["a"], ["b"], domain="local")]
        functions.append(helper.make_function("local", "Again", ["a"], ["b"], body, opsets))
        nodes.append(helper.make_node("Again", ["logits"], [output], domain="local"))
        opsets.append(helper.make_opsetid("local", 1))
    elif kind == "slow":
        side, count = int(recipe.get("side", 1500)), int(recipe.get("count", 200))
        inits += [numpy_helper.from_array(np.array([side, side], dtype=np.int64), "big_shape"),
                  numpy_helper.from_array(np.array(1e-4, dtype=np.float32), "tiny_scale")]
        nodes += [helper.make_node("ReduceMean", ["X"], ["m"], keepdims=0),
                  helper.make_node("Mul", ["m", "tiny_scale"], ["ms"]),
                  helper.make_node("Expand", ["ms", "big_shape"], ["A0"])]
        for i in range(count):
            nodes.append(helper.make_node("MatMul", [f"A{i}", "A0"], [f"A{i + 1}"]))
        nodes += [helper.make_node("ReduceSum", [f"A{count}"], ["s"], keepdims=0),
                  helper.make_node("Add", ["logits", "s"], [output])]
    elif kind == "memory":
        side = int(recipe.get("side", 30000))
        inits.append(numpy_helper.from_array(np.array([side, side], dtype=np.int64), "big_shape"))
        nodes += [helper.make_node("ReduceMean", ["X"], ["m"], keepdims=0),
                  helper.make_node("Expand", ["m", "big_shape"], ["big"]),
                  helper.make_node("ReduceSum", ["big"], ["s"], keepdims=0),
                  helper.make_node("Add", ["logits", "s"], [output])]
    elif kind == "two_inputs":
        inputs.append(helper.make_tensor_value_info("X2", TensorProto.FLOAT, dims))
        nodes.append(helper.make_node("Identity", ["logits"], [output]))
    elif kind == "external":
        nodes.append(helper.make_node("Identity", ["logits"], [output]))
        w = inits[0]
        w.ClearField("raw_data")
        w.ClearField("float_data")
        w.data_location = TensorProto.EXTERNAL
        w.external_data.add(key="location", value="/etc/passwd")
    else:
        raise ValueError(f"unknown recipe graph {kind!r}")

    graph = helper.make_graph(nodes, "corpus", inputs, [helper.make_tensor_value_info(output, TensorProto.FLOAT,
                                                                                      ["N", k])], inits)
    model = helper.make_model(graph, opset_imports=opsets, functions=functions, producer_name="cnnedu-corpus")
    model.ir_version = 8
    props = {} if recipe.get("no_meta") else default_props(classes)
    for key in recipe.get("drop_meta", ()):
        props.pop(key, None)
    props.update({key: expand(value) for key, value in recipe.get("meta", {}).items()})
    helper.set_model_props(model, props)
    return model.SerializeToString()


def expand(value: str | dict[str, Any]) -> str:
    """A metadata text, or one too big to keep literally in the corpus:
    {"prefix": P, "repeat": R, "times": N, "then": T, "then_times": M, "suffix": S} is P + R×N + T×M + S."""
    if isinstance(value, str):
        return value
    return (value.get("prefix", "") + value["repeat"] * int(value["times"])
            + value.get("then", "") * int(value.get("then_times", 1)) + value.get("suffix", ""))


def build_raw(recipe: dict[str, Any]) -> bytes:
    """Bytes that are not (quite) a model: ``raw`` text, the first ``truncate`` bytes of a model, a model
    with a metadata value that is not UTF-8, or a model built from ``recipe`` otherwise."""
    if "raw" in recipe:
        return recipe["raw"].encode("latin-1")
    data = build({k: v for k, v in recipe.items() if k not in ("truncate", "non_utf8")})
    if "truncate" in recipe:
        return data[: int(recipe["truncate"])]
    if recipe.get("non_utf8"):
        marker = b"corpus-arch"
        data = build({"meta": {"cnnedu.arch": marker.decode()}})
        return data.replace(marker, b"\xff\xfe\xfd-arch\xc3")
    return data


def save(recipe: dict[str, Any], path) -> str:
    with open(path, "wb") as f:
        f.write(build_raw(recipe))
    return str(path)


def check(data: bytes) -> None:
    """onnx's own checker on the bytes (a recipe's model should be valid ONNX unless it is broken on purpose)."""
    onnx.checker.check_model(onnx.load_from_string(data))
