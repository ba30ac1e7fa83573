"""The one grammar for activation and parameter names, and the names generated code keeps.

An activation name or a parameter name is an ASCII identifier that starts with a letter
(``[A-Za-z][A-Za-z0-9_]*``), at most :data:`MAX_LENGTH` characters, and is none of the
names in :data:`RESERVED`. An activation name starts with a lowercase letter, so that the
generated function (``gaussian_bump``) and class (``GaussianBump``) never share a name. A parameter name also may not end in ``_raw`` (the modules store
a constrained parameter's unconstrained value as ``<name>_raw``) nor equal its activation's
name or class name. :func:`check_name` applies the rule; ``spec`` calls it when a
definition builds a ``Param`` or an ``Activation``, so no backend meets a name it cannot use.

Why each group is reserved:

- Python keywords, soft keywords and builtins: generated code calls ``zip``, ``float``,
  ``super``...; a parameter of that name would shadow them.
- Module-level names of the generated files (imports, helpers, tables).
- Attributes of ``torch.nn.Module`` and ``keras.layers.Layer``: each trainable parameter is
  an attribute of the generated module or layer (``Swish(3).beta``), so ``parameters``,
  ``training``, ``half``, ``weights``, ``name`` would break the framework's own machinery.
"""

from __future__ import annotations

import builtins
import keyword
import re

__all__ = ["MAX_LENGTH", "RESERVED", "RESERVED_SUFFIX", "check_name", "class_name"]

#: Longest accepted name: it names a folder and files (``test_<name>.py``), so it must fit
#: every file system's 255-byte limit with room for the prefix.
MAX_LENGTH = 64

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

#: Suffix of the unconstrained storage of a constrained parameter in the generated modules.
RESERVED_SUFFIX = "_raw"

_PYTHON = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))

#: Names at module level or in function bodies of kernels.py, torch_ops.py, tf_ops.py and
#: the generated tests.
_GENERATED = frozenset(
    {
        "x", "grad", "grad_out", "upstream", "variables", "params", "value", "values", "raw",
        "np", "math", "numba", "sys", "os", "functools", "importlib", "pathlib", "json",
        "torch", "nn", "tf", "keras", "pytest", "mpmath",
        "forward", "backward", "backward_x", "PARAMS", "TRAINABLE", "FLOAT32_VIA_FLOAT64",
        "nan", "inf", "self", "ctx", "info", "num_parameters", "device", "dtype", "x_only",
        "config", "shape", "kwargs", "args", "cls", "inputs", "outputs", "training",
    }
)

#: Public attributes of torch.nn.Module (class and instance), as of torch 2.13; a test
#: checks this list against the installed torch.
TORCH_MODULE_ATTRIBUTES = frozenset(
    {
        "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init",
        "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr",
        "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule",
        "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers", "named_children",
        "named_modules", "named_parameters", "parameters", "register_backward_hook",
        "register_buffer", "register_forward_hook", "register_forward_pre_hook",
        "register_full_backward_hook", "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
        "register_module", "register_parameter", "register_state_dict_post_hook",
        "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule",
        "share_memory", "state_dict", "to", "to_empty", "train", "type", "xpu", "zero_grad",
        "training",
    }
)

#: Public attributes of keras.layers.Layer (class and instance), as of Keras 3.15; a test
#: checks this list against the installed Keras.
KERAS_LAYER_ATTRIBUTES = frozenset(
    {
        "add_loss", "add_metric", "add_variable", "add_weight", "build", "build_from_config",
        "call", "compute_dtype", "compute_mask", "compute_output_shape", "compute_output_spec",
        "count_params", "dtype", "dtype_policy", "from_config", "get_build_config", "get_config",
        "get_weights", "input", "input_dtype", "input_spec", "load_own_variables", "losses",
        "metrics", "metrics_variables", "non_trainable_variables", "non_trainable_weights",
        "output", "path", "quantization_mode", "quantize", "quantized_build", "quantized_call",
        "rematerialized_call", "save_own_variables", "set_weights", "stateless_call",
        "supports_masking", "symbolic_call", "trainable", "trainable_variables",
        "trainable_weights", "variable_dtype", "variables", "weights", "name", "built",
        "autocast", "seed_generators", "supports_jit", "activity_regularizer",
    }
)

#: Every name no activation or parameter may take.
RESERVED = _PYTHON | _GENERATED | TORCH_MODULE_ATTRIBUTES | KERAS_LAYER_ATTRIBUTES


def class_name(name: str) -> str:
    """CamelCase name of the generated module classes (``gaussian_bump`` -> ``GaussianBump``).

    >>> class_name("gaussian_bump"), class_name("gelu_tanh2"), class_name("a__b")
    ('GaussianBump', 'GeluTanh2', 'AB')
    """
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def check_name(kind: str, name: object) -> str | None:
    """Why ``name`` cannot name a ``kind`` ("activation" or "parameter"); None when it can.

    >>> check_name("parameter", "beta") is None
    True
    >>> check_name("parameter", "zip")
    "parameter name 'zip' is reserved: generated code uses it"
    >>> check_name("activation", "é_act")
    "activation name 'é_act' must be an ASCII identifier starting with a letter ([A-Za-z][A-Za-z0-9_]*)"
    """
    if not isinstance(name, str):
        return f"{kind} name must be a string, got {type(name).__name__} {name!r}"
    if not _IDENTIFIER.match(name):
        return (
            f"{kind} name {name!r} must be an ASCII identifier starting with a letter "
            f"([A-Za-z][A-Za-z0-9_]*)"
        )
    if len(name) > MAX_LENGTH:
        return f"{kind} name {name[:20]!r}... is {len(name)} characters long; the limit is {MAX_LENGTH}"
    if name in RESERVED:
        return f"{kind} name {name!r} is reserved: generated code uses it"
    if kind == "activation" and not name[0].islower():
        return (
            f"activation name {name!r} must start with a lowercase letter: the generated class "
            f"is its CamelCase form ({class_name(name)!r}) and must differ from the function"
        )
    if kind == "activation" and class_name(name) in RESERVED:
        return f"activation name {name!r} gives the class name {class_name(name)!r}, which generated code uses"
    if kind == "parameter" and name.endswith(RESERVED_SUFFIX):
        return (
            f"parameter name {name!r} ends in {RESERVED_SUFFIX!r}, which the generated modules use "
            f"for a constrained parameter's raw value"
        )
    return None
