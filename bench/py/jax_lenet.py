"""JAX column of benchmark (e): LeNet (Conv2d(1,6,5), ReLU, max-pool 2, Conv2d(6,16,5), ReLU,
max-pool 2, Linear 256-120-84-10 with ReLU), cross-entropy, SGD lr 0.01 momentum 0.9, batch 64,
one epoch in file order, one jit-compiled train step (value_and_grad + the momentum update, params
and momentum donated).

    python3 jax_lenet.py X.npy Y.npy [--batch 64] [--lr 0.01] [--epochs 1]

X is float32 [n, 1, 28, 28]. Threads are chosen by the caller through XLA_FLAGS (set before JAX
starts). Prints `loss L` (the last epoch's example-weighted mean) and `epoch_seconds S` (the last
epoch's loop, after every batch shape was compiled on throw-away params).
"""
import argparse
import time
from functools import partial

import numpy as np
import jax
import jax.numpy as jnp
from jax import lax


def init(key):
    """PyTorch's default initialisation: uniform(±1/sqrt(fan_in)) for weights and biases."""
    shapes = {"c1": ((6, 1, 5, 5), 25), "c2": ((16, 6, 5, 5), 150), "f1": ((120, 256), 256), "f2": ((84, 120), 120),
              "f3": ((10, 84), 84)}
    params, keys = {}, jax.random.split(key, 2 * len(shapes))
    for i, (name, (shape, fan_in)) in enumerate(shapes.items()):
        bound = 1 / np.sqrt(fan_in)
        params[name + ".weight"] = jax.random.uniform(keys[2 * i], shape, jnp.float32, -bound, bound)
        params[name + ".bias"] = jax.random.uniform(keys[2 * i + 1], (shape[0],), jnp.float32, -bound, bound)
    return params


def conv(x, w, b):
    y = lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y + b[None, :, None, None]


def pool(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def loss_fn(p, xb, yb):
    h1 = pool(jax.nn.relu(conv(xb, p["c1.weight"], p["c1.bias"])))
    h2 = pool(jax.nn.relu(conv(h1, p["c2.weight"], p["c2.bias"])))
    h = h2.reshape(h2.shape[0], -1)
    h = jax.nn.relu(h @ p["f1.weight"].T + p["f1.bias"])
    h = jax.nn.relu(h @ p["f2.weight"].T + p["f2.bias"])
    logits = h @ p["f3.weight"].T + p["f3.bias"]
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))


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
    params = init(jax.random.PRNGKey(0))
    momentum = jax.tree_util.tree_map(jnp.zeros_like, params)

    @partial(jax.jit, donate_argnums=(0, 1))
    def step(p, m, xb, yb):
        # torch.optim.SGD with momentum: buf = 0.9 buf + g; p -= lr buf
        loss, g = jax.value_and_grad(loss_fn)(p, xb, yb)
        m = jax.tree_util.tree_map(lambda b, d: 0.9 * b + d, m, g)
        return jax.tree_util.tree_map(lambda w, b: w - lr * b, p, m), m, loss

    for n in sorted({B, N % B} - {0}):  # compile every batch shape the epoch will see
        q, r = jax.tree_util.tree_map(jnp.copy, params), jax.tree_util.tree_map(jnp.copy, momentum)
        jax.block_until_ready(step(q, r, X[:n], Y[:n]))

    for _ in range(a.epochs):
        t0 = time.perf_counter()
        losses = []
        for s in range(0, N, B):
            params, momentum, loss = step(params, momentum, X[s:s + B], Y[s:s + B])
            losses.append(loss)
        jax.block_until_ready(params)
        secs = time.perf_counter() - t0
    total = sum(float(l) * min(B, N - i * B) for i, l in enumerate(losses))
    print(f"loss {total / N:.6f}")
    print(f"epoch_seconds {secs:.6f}")


if __name__ == "__main__":
    main()
