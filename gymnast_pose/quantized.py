"""8-bit integer inference on x86 CPUs without fast bfloat16 (AVX2 laptops and desktops).

Post-training static quantization (PyTorch's FX graph mode, the ``x86`` engine of fbgemm/oneDNN): convolutions run
on int8 weights (per output channel) and int8 activations; the network's output is turned back into float32 before
the softmax, so the codec and the decoding see the same kind of logits as in float32.

Activations need their value ranges, measured once on real crops (*calibration*, ``calibrate``); those ranges are
the observers' state, a few hundred kilobytes of tensors, stored in the checkpoint under ``int8_calibration``
(``model_training/calibrate_int8.py`` writes it, from LSPET training images only). ``quantized_network`` rebuilds
the same graph, loads that state and converts it: no data needed at load time, and every machine builds the same
int8 model from the same file.

Conventions: input (B, 3, S, S) float32 normalised RGB (``model.normalize_images``), any S that is a multiple of
32; output (B, C, S/4, S/4) float32 logits, as the float network. The graph is traced at load time in about a
second.
"""

from __future__ import annotations

import copy
import hashlib
import warnings
from collections.abc import Iterable

import torch

ENGINE = "x86"
CALIBRATION_KEY = "int8_calibration"  # the network as the video tracker runs it (without refinement)
REFINED_CALIBRATION_KEY = "int8_calibration_refined"  # with its refinement stage, for still images
_OBSERVER_MARK = "activation_post_process"


def int8_supported() -> bool:
    """Whether this PyTorch build and CPU can run the x86 int8 kernels (fbgemm needs AVX2 or better)."""
    if ENGINE not in torch.backends.quantized.supported_engines:
        return False
    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "")()
    return capability.startswith("AVX2") or capability.startswith("AVX512")


def output_convolutions(network: torch.nn.Module) -> list[str]:
    """Names of the layers that write logits, which stay in float32: the network's last ``Conv2d`` and, in a
    ``PoseNet`` with a refinement stage, also the head's output convolution (its logits are added to the
    refinement's). Quantizing the logits cost 0.012 of validation PCK@0.2 (0.534 against 0.546, float32 0.549);
    keeping them float costs no speed."""
    names = [name for name, module in network.named_modules() if isinstance(module, torch.nn.Conv2d)]
    if not names:
        raise ValueError("the network has no convolution to quantize")
    head = getattr(network, "head", None)
    if getattr(network, "refine", None) is not None and isinstance(head, torch.nn.Sequential):
        return [f"head.{len(head) - 1}", names[-1]]
    return [names[-1]]


def _prepared(network: torch.nn.Module, input_size: int) -> torch.nn.Module:
    """The float network (eval mode, unfused batch norm) with observers inserted after every quantized op."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_fx

    torch.backends.quantized.engine = ENGINE
    mapping = get_default_qconfig_mapping(ENGINE)
    for name in output_convolutions(network):
        mapping = mapping.set_module_name(name, None)
    example = (torch.zeros(1, 3, input_size, input_size),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FX quantization's deprecation notices are not for the user
        return prepare_fx(copy.deepcopy(network).float().eval(), mapping, example)


@torch.no_grad()
def calibrate(network: torch.nn.Module, batches: Iterable[torch.Tensor], input_size: int) -> dict:
    """Measure the activation ranges of ``network`` on ``batches`` of normalised crops (B, 3, S, S) float32.

    Returns the calibration to store in a checkpoint: ``{"engine", "input_size", "batches", "crops", "observers":
    {name: tensor}}``.
    """
    prepared = _prepared(network, input_size)
    count = crops = 0
    for batch in batches:
        prepared(batch.float())
        count += 1
        crops += len(batch)
    if not crops:
        raise ValueError("calibration needs at least one crop")
    observers = {k: v.detach().clone() for k, v in prepared.state_dict().items() if _OBSERVER_MARK in k}
    return {"engine": ENGINE, "input_size": int(input_size), "batches": count, "crops": crops,
            "graph": _graph_signature(prepared), "observers": observers}


def _graph_signature(prepared: torch.nn.Module) -> str:
    """SHA-256 of the observed graph's code: which observer watches which layer."""
    return hashlib.sha256(prepared.code.encode()).hexdigest()


def quantized_network(network: torch.nn.Module, calibration: dict) -> torch.nn.Module:
    """The int8 version of ``network`` (float, eval mode) from a stored ``calibration``; ValueError when the
    calibration does not belong to this network's graph."""
    from torch.ao.quantization.quantize_fx import convert_fx

    prepared = _prepared(network, int(calibration.get("input_size", 256)))
    observers = calibration.get("observers", {})
    expected = {k for k in prepared.state_dict() if _OBSERVER_MARK in k}
    if set(observers) != expected or calibration.get("graph") != _graph_signature(prepared):
        raise ValueError("the int8 calibration was made for another network (its observers do not match)")
    prepared.load_state_dict(observers, strict=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_fx(prepared).eval()
