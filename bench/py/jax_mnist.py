"""JAX column of benchmark (a): MLP 784-512-10, cross-entropy, SGD lr 0.01, batch 64, one epoch in
file order, one jit-compiled train step (value_and_grad + update, params donated).

    python3 jax_mnist.py X.npy Y.npy [--batch 64] [--lr 0.01] [--epochs 1]

Threads are chosen by the caller through XLA_FLAGS (set before JAX starts). Prints `loss L` (the
last epoch's example-weighted mean) and `epoch_seconds S` (the last epoch's loop, after both batch
shapes were compiled on throw-away params, so compilation is not in it; it is in the process time).
"""
import argparse
import time
from functools import partial

import numpy as np
import jax
import jax.numpy as jnp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("x")
    ap.add_argument("y")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=1)
    a = ap.parse_args()
    X = np.load(a.x)
    Y = np.load(a.y).astype(np.int32)
    N, B, lr = X.shape[0], a.batch, a.lr

    k = jax.random.split(jax.random.PRNGKey(0), 4)
    b1, b2 = 1 / np.sqrt(784), 1 / np.sqrt(512)
    params = {
        "w1": jax.random.uniform(k[0], (512, 784), jnp.float32, -b1, b1),
        "b1": jax.random.uniform(k[1], (512,), jnp.float32, -b1, b1),
        "w2": jax.random.uniform(k[2], (10, 512), jnp.float32, -b2, b2),
        "b2": jax.random.uniform(k[3], (10,), jnp.float32, -b2, b2),
    }

    def loss_fn(p, xb, yb):
        h = jax.nn.relu(xb @ p["w1"].T + p["b1"])
        logits = h @ p["w2"].T + p["b2"]
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

    @partial(jax.jit, donate_argnums=0)
    def step(p, xb, yb):
        loss, g = jax.value_and_grad(loss_fn)(p, xb, yb)
        return jax.tree_util.tree_map(lambda w, d: w - lr * d, p, g), loss

    # Batches go in as NumPy views (measured a little faster on CPU than slicing a device copy
    # of the data set per step, and the same as lax.dynamic_slice inside the step).
    for n in sorted({B, N % B} - {0}):  # compile every batch shape the epoch will see
        q = jax.tree_util.tree_map(jnp.copy, params)
        jax.block_until_ready(step(q, X[:n], Y[:n]))

    for _ in range(a.epochs):
        t0 = time.perf_counter()
        losses = []
        for s in range(0, N, B):
            params, loss = step(params, X[s:s + B], Y[s:s + B])
            losses.append(loss)
        jax.block_until_ready(params)
        secs = time.perf_counter() - t0
    total = sum(float(l) * min(B, N - i * B) for i, l in enumerate(losses))
    print(f"loss {total / N:.6f}")
    print(f"epoch_seconds {secs:.6f}")


if __name__ == "__main__":
    main()
