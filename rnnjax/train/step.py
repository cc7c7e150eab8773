"""One jitted, donating training step per loss.

::

    def loss_fn(params, batch, key):
        logits, _ = model.apply(params, batch["inputs"])
        loss = rnnjax.train.cross_entropy(logits, batch["targets"], batch["mask"])
        return loss, {"accuracy": rnnjax.train.accuracy(logits, batch["targets"], batch["mask"])}

    opt = rnnjax.train.optimizer("adam", 1e-3, clip_norm=1.0)
    state = rnnjax.train.init_state(params, opt, key=jax.random.key(0))
    step = rnnjax.train.make_step(loss_fn, opt, has_aux=True)     # jitted, donates `state`
    state, metrics = step(state, batch)
    # metrics: loss, grad_norm, param_norm, update_norm, finite (+ the aux dict)

The step is a pure function of ``(state, batch)``: the key of update ``n`` is
``fold_in(key, n)`` and nothing depends on process state, so ``jax.vmap`` over a stack of
states (seeds) works unchanged (``make_step(..., jit=False)`` gives the bare function to vmap,
see :mod:`rnnjax.train.sweep`) and a resumed run repeats an uninterrupted one exactly.

Non-finite values
-----------------
After computing the update the step checks that everything it logs is finite: the loss, every
gradient leaf, every new parameter, the norms (``||θ||`` overflows float32 long before ``θ``
does) and the aux metrics. If not, the parameters and optimiser state are left exactly as they
were (NaN parameters are never written) and ``metrics["finite"]`` is 0. What happens next is
the loop's choice, ``rnnjax.train.fit(..., nonfinite=...)``: ``"stop"`` (default) raises
:class:`NonFiniteError` naming the step and what went non-finite (the loss, which parameter's
gradient, a norm); ``"skip"`` skips the update and carries on (the rule of
``optax.apply_if_finite``, which :func:`rnnjax.train.optimizer` offers for loops of your own)
and counts the skips. Skipping cannot bring back a run whose parameters overflow on every
batch (an unbounded recurrence such as a ReLU network with ``W_h`` near the identity, at long
T): it stays where it is for good, its logged loss unchanged. Such a run is float32's failure
before it is the model's; the same run in float64 (``with jax.enable_x64(True):``, the
parameters cast by :func:`rnnjax.cell.cast`, the data as before) takes the clipped step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from rnnjax.train.errors import RunError
from rnnjax.train.state import TrainState, step_key

PyTree = Any
Metrics = dict[str, jax.Array]

NONFINITE_MODES = ("stop", "skip")
# Metrics whose name starts with "_" are diagnostics for the loop, not written to metrics.jsonl.
_LEAF_FLAGS = "_grad_finite"
_NORM_FLAGS = "_norms_finite"  # of the attempted update: ||θ_new||, ||Δθ||


class NonFiniteError(RunError, FloatingPointError):
    """Training produced a non-finite loss or gradient (with ``nonfinite="stop"``)."""


def check_nonfinite_mode(nonfinite: str) -> None:
    if nonfinite not in NONFINITE_MODES:
        raise ValueError(f"nonfinite must be one of {NONFINITE_MODES}, got {nonfinite!r}")


def _all_finite(tree: PyTree) -> jax.Array:
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else jnp.array(True)


def apply_gradients(
    state: TrainState,
    optimizer: optax.GradientTransformation,
    loss: jax.Array,
    grads: PyTree,
    aux: dict[str, jax.Array] | None = None,
) -> tuple[TrainState, Metrics]:
    """The update shared by every step: optimiser, non-finite guard, metrics.

    Returns the new state and the metrics
    ``loss, grad_norm = ||g||_2, param_norm = ||θ||_2, update_norm = ||Δθ||_2, finite`` (+ aux).
    ``finite`` is 1 only if every one of them is finite (norms and aux metrics included, so a
    finite loss with an overflowing ``||θ_new||`` is not finite) and every gradient and new
    parameter is; otherwise the parameters and optimiser state are left unchanged (the step
    counter always advances). Compute overflow-prone derived quantities (perplexity) outside
    the step, e.g. with :func:`rnnjax.train.metrics.safe_exp`.
    """
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    leaf_finite = jnp.stack([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)])
    grad_norm, update_norm = optax.tree.norm(grads), optax.tree.norm(updates)
    new_param_norm = optax.tree.norm(params)
    aux = dict(aux or {})
    aux_finite = [jnp.all(jnp.isfinite(v)) for v in aux.values()]
    # Everything logged must be finite, norms included: ||θ|| overflows float32 long before θ.
    finite = (jnp.isfinite(loss) & jnp.all(leaf_finite) & _all_finite(params)
              & jnp.isfinite(grad_norm) & jnp.isfinite(new_param_norm) & jnp.isfinite(update_norm)
              & jnp.all(jnp.stack([jnp.array(True), *aux_finite])))
    keep = lambda new, old: jnp.where(finite, new, old)
    params = jax.tree.map(keep, params, state.params)
    opt_state = jax.tree.map(keep, opt_state, state.opt_state)
    metrics = {
        "loss": loss,
        "grad_norm": grad_norm,
        "param_norm": jnp.where(finite, new_param_norm, optax.tree.norm(state.params)),
        "update_norm": jnp.where(finite, update_norm, 0.0),
        "finite": finite.astype(jnp.float32),
        _LEAF_FLAGS: leaf_finite,
        _NORM_FLAGS: jnp.stack([jnp.isfinite(new_param_norm), jnp.isfinite(update_norm)]),
    }
    if aux:
        overlap = set(aux) & set(metrics)
        if overlap:
            raise ValueError(f"aux metrics may not reuse the names {sorted(overlap)}")
        metrics.update(aux)
    new_state = TrainState(params=params, opt_state=opt_state, step=state.step + 1, key=state.key)
    return new_state, metrics


def make_step(
    loss_fn: Callable[..., Any],
    optimizer: optax.GradientTransformation,
    *,
    has_aux: bool = False,
    jit: bool = True,
    donate: bool = True,
) -> Callable[[TrainState, PyTree], tuple[TrainState, Metrics]]:
    """A training step ``(state, batch) -> (state, metrics)`` for ``loss_fn``.

    Args:
      loss_fn: ``(params, batch, key) -> loss`` (or ``(loss, aux_dict)`` with ``has_aux``); a
        scalar to minimise. ``key`` is this update's key, ``fold_in(state key, step)``.
      optimizer: the optax transformation the state was initialised with.
      has_aux: whether ``loss_fn`` also returns a dict of extra scalar metrics.
      jit: compile with ``jax.jit``. Use ``jit=False`` to ``vmap`` it first.
      donate: donate the input state's buffers to the output (only with ``jit``); the state
        passed in must not be used afterwards.
    """
    grad_fn = jax.value_and_grad(loss_fn, has_aux=has_aux)

    def step(state: TrainState, batch: PyTree) -> tuple[TrainState, Metrics]:
        out, grads = grad_fn(state.params, batch, step_key(state))
        loss, aux = out if has_aux else (out, None)
        return apply_gradients(state, optimizer, loss, grads, aux)

    return jax.jit(step, donate_argnums=(0,) if donate else ()) if jit else step


def describe_nonfinite(step: int, metrics: dict[str, Any], params: PyTree) -> str:
    """One line naming the step and what went non-finite, from a step's (host) metrics."""
    import numpy as np

    loss = np.asarray(metrics["loss"])
    flags = np.asarray(metrics.get(_LEAF_FLAGS, []), dtype=bool)
    where, i = "", 0
    if loss.ndim:  # a sweep: name the first failing member
        finite = np.asarray(metrics["finite"]).reshape(-1) > 0
        bad = np.flatnonzero(~finite)
        i = int(bad[0]) if bad.size else 0
        where = f" (sweep member {i} of {loss.size})"
        loss = loss.reshape(-1)[i]
        if flags.ndim > 1:
            flags = flags.reshape(-1, flags.shape[-1])[i]
    what = []
    if not np.isfinite(loss):
        what.append(f"loss is {float(loss)}")
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
    bad_leaves = [p for p, ok in zip(paths, flags, strict=False) if not ok]
    if bad_leaves:
        shown = ", ".join(f"params{p}" for p in bad_leaves[:4])
        more = f" and {len(bad_leaves) - 4} more" if len(bad_leaves) > 4 else ""
        what.append(f"gradient of {shown}{more} is non-finite")
    norms = np.asarray(metrics.get(_NORM_FLAGS, [True, True]), dtype=bool)
    if norms.ndim > 1:
        norms = norms.reshape(-1, norms.shape[-1])[i]
    if not bad_leaves:
        what += [f"{name} of the update overflows"
                 for name, ok in zip(("param_norm", "update_norm"), norms, strict=True) if not ok]
        what += _nonfinite_scalars(metrics, member=i if where else None)
    if not what:
        what.append("updated parameters are non-finite")
    return f"step {step}{where}: {'; '.join(what)}; the update was not applied"


def _nonfinite_scalars(metrics: dict[str, Any], member: int | None) -> list[str]:
    """``"<name> is inf"`` for each logged metric (not loss/finite/diagnostics) that is not finite."""
    import numpy as np

    out = []
    for name, value in metrics.items():
        if name.startswith("_") or name in ("loss", "finite", "param_norm", "update_norm"):
            continue
        v = np.asarray(value, dtype=np.float64)
        if member is not None and v.ndim:  # a sweep: the failing member's value
            v = v[member]
        bad = v[~np.isfinite(v)]
        if bad.size:
            out.append(f"{name} is {float(bad.reshape(-1)[0])}")
    return out
