"""Train a small Keras model with a generated activation layer, imported from its folder alone.

    python examples/train_keras.py generated/swish            # or a copy of the folder anywhere
    python examples/train_keras.py path/to/my_act --epochs 200

The folder is what `symact generate` wrote for one activation (kernels.py, tf_ops.py, ...).
Its tf_ops.py is imported by path: the generated layer needs TensorFlow and Keras 3, not
symact (nor numba).

The model is Dense(16) -> the activation's layer, one parameter per unit -> Dense(1),
fitted with Adam (`model.fit`) to y = sin(2x) + 0.3x on 256 points of [-3, 3]. It prints the
loss and the layer's trainable parameters (their mean over the units) before and after, and
exits with 1 if the loss did not go down or no trainable parameter moved.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter

import keras  # noqa: E402
import numpy as np  # noqa: E402


def load_layer_class(folder: Path) -> tuple[object, type[keras.layers.Layer]]:
    """The folder's tf_ops.py as a module, and the Keras layer class it defines."""
    path = folder / "tf_ops.py"
    if not path.is_file():
        sys.exit(f"{folder}: no tf_ops.py here; give a folder that `symact generate` wrote")
    spec = importlib.util.spec_from_file_location(f"{folder.name}_tf_ops", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = [
        v for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, keras.layers.Layer) and v.__module__ == module.__name__
    ]
    return module, classes[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a generated activation folder")
    parser.add_argument("--epochs", type=int, default=200, help="epochs of one full batch each (default 200)")
    args = parser.parse_args(argv)

    module, cls = load_layer_class(args.folder)
    print(f"imported {cls.__name__} from {Path(module.__file__).resolve()}")
    keras.utils.set_random_seed(0)
    x = np.linspace(-3, 3, 256, dtype="float32").reshape(-1, 1)
    y = np.sin(2 * x) + 0.3 * x
    act = cls(num_parameters=16)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(16), act, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.02), loss="mse")

    def values() -> dict[str, float]:
        return {name: float(np.mean(keras.ops.convert_to_numpy(getattr(act, name)))) for name in module.TRAINABLE}

    before_params = values()
    before = float(model.evaluate(x, y, batch_size=256, verbose=0))
    model.fit(x, y, batch_size=256, epochs=args.epochs, shuffle=False, verbose=0)
    after = float(model.evaluate(x, y, batch_size=256, verbose=0))
    after_params = values()

    print(f"loss: {before:.4f} -> {after:.4f} after {args.epochs} epochs")
    for name in module.TRAINABLE:
        print(f"{name} (mean over units): {before_params[name]:.4f} -> {after_params[name]:.4f}")
    if not module.TRAINABLE:
        print("(this activation has no trainable parameter)")
    moved = any(abs(after_params[n] - before_params[n]) > 1e-4 for n in module.TRAINABLE)
    if not after < before or (module.TRAINABLE and not moved):
        print("training did not work: the loss did not go down or no parameter moved")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
