"""JAX column of benchmark (b): Linear(1,10)-ReLU-Linear(10,10)-ReLU-Linear(10,1), MSE, Adam
(torch.optim.Adam's formulas) lr 0.1, full batch, 5000 steps of one jit-compiled train step.

    python3 jax_sine.py X.npy Y.npy [--steps 5000] [--lr 0.1]

Prints `loss L` (the last step's loss, before its update) and `train_seconds S` (the loop, after
the step was compiled on throw-away state).
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
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--lr", type=float, default=0.1)
    a = ap.parse_args()
    X = jax.device_put(np.load(a.x))
    Y = jax.device_put(np.load(a.y))
    lr, b1, b2, eps = a.lr, 0.9, 0.999, 1e-8

    ks = jax.random.split(jax.random.PRNGKey(0), 6)
    def lin(kw, kb, i, o):
        bd = 1 / np.sqrt(i)
        return (jax.random.uniform(kw, (o, i), jnp.float32, -bd, bd),
                jax.random.uniform(kb, (o,), jnp.float32, -bd, bd))
    params = [lin(ks[0], ks[1], 1, 10), lin(ks[2], ks[3], 10, 10), lin(ks[4], ks[5], 10, 1)]
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = (params, zeros, jax.tree_util.tree_map(jnp.zeros_like, params), jnp.zeros((), jnp.float32))

    def loss_fn(p, x, y):
        h = x
        for i, (w, b) in enumerate(p):
            h = h @ w.T + b
            if i < 2:
                h = jax.nn.relu(h)
        return jnp.mean((h - y) ** 2)

    @partial(jax.jit, donate_argnums=0)
    def step(st, x, y):
        p, m, v, t = st
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        p = jax.tree_util.tree_map(lambda p, m, v: p - (lr / bc1) * m / (jnp.sqrt(v) / jnp.sqrt(bc2) + eps), p, m, v)
        return (p, m, v, t), loss

    jax.block_until_ready(step(jax.tree_util.tree_map(jnp.copy, state), X, Y))  # compile
    t0 = time.perf_counter()
    for _ in range(a.steps):
        state, loss = step(state, X, Y)
    jax.block_until_ready(state)
    secs = time.perf_counter() - t0
    print(f"loss {float(loss):.6f}")
    print(f"train_seconds {secs:.6f}")


if __name__ == "__main__":
    main()
