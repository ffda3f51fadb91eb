"""Which op makes a model's output: its own softmax or sigmoid (the output is already probabilities), or not.

Keras models as the workshop's notebook, Teachable Machine and Model Maker build them end in their own
activation; piclassify's own models end in logits. Without TensorFlow, the runtime's op listing is the only
way to see it.
"""

from __future__ import annotations

from typing import Any

from piclassify.shared.errors import ModelImportError

ACTIVATIONS = {"LOGISTIC": "sigmoid", "SOFTMAX": "softmax"}
_PASS_THROUGH = ("QUANTIZE", "DEQUANTIZE", "RESHAPE", "SQUEEZE")  # ops that may follow the activation unchanged


def final_activation(interpreter: Any, output_index: int) -> str:
    """The op that makes the output (``LOGISTIC``, ``SOFTMAX``, ``FULLY_CONNECTED``, ...), looking past
    quantize/reshape ops, or ``none`` when no op makes it."""
    try:
        ops = [op for op in interpreter._get_ops_details() if op["op_name"] != "DELEGATE"]
    except AttributeError:
        raise ModelImportError("this runtime cannot list a model's ops; pip install -U ai-edge-litert") from None
    tensor = output_index
    for _ in range(len(ops)):
        producer = next((op for op in ops if tensor in list(op["outputs"])), None)
        if producer is None:
            return "none"
        if producer["op_name"] not in _PASS_THROUGH:
            return producer["op_name"]
        tensor = int(producer["inputs"][0])
    return "none"
