"""Initialisers for recurrent networks.

Every initialiser has the signature of ``jax.nn.initializers``: ``(key, shape, dtype) -> array``.
Cells accept either such a callable or one of the names in :data:`NAMES`.

- :func:`orthogonal` — ``W = scale · Q`` with ``Q`` Haar-distributed orthogonal (Saxe et al. 2014):
  all singular values equal ``scale``, so a linear RNN preserves norms exactly when ``scale = 1``.
- :func:`identity` — ``W = scale · I`` (Le, Jaitly & Hinton 2015, the IRNN with ReLU).
- :func:`scale_spectral_radius` / :func:`scale_spectral_norm` — rescale a matrix so that
  ``ρ(W) = max |λ_i(W)|`` or ``σ_max(W)`` takes a given value (Pascanu et al. 2013 analyse both).
- :func:`chrono_bias` — chrono initialisation of the LSTM biases (Tallec & Ollivier 2018):
  ``b_f ~ log U[1, T_max − 1]``, ``b_i = −b_f``, so forget-gate time constants span ``[1, T_max]``.
- :func:`learned_initial_carry` — wrap any cell so its initial carry is a learned parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnnjax import _checks
from rnnjax.cell import Cell, Layer, cell_constructor, with_params

Array = jax.Array
Initializer = Callable[..., Array]


def orthogonal(scale: float = 1.0) -> Initializer:
    """``scale · Q``, ``Q`` uniformly (Haar) distributed; non-square shapes get orthonormal rows/columns.

    Sampled as the QR decomposition of a Gaussian matrix with the signs of ``diag(R)`` folded
    into ``Q`` (Mezzadri 2007), which makes the distribution exactly Haar.
    """

    def init(key: Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> Array:
        if len(shape) != 2:
            raise ValueError(f"orthogonal: expected a 2-D shape (rows, cols), got {shape}")
        rows, cols = shape
        n, m = max(rows, cols), min(rows, cols)
        a = jax.random.normal(key, (n, m), jnp.promote_types(dtype, jnp.float32))
        q, r = jnp.linalg.qr(a)
        q = q * jnp.sign(jnp.diagonal(r))[None, :]
        q = q if rows >= cols else q.T
        return (scale * q).astype(dtype)

    return init


def identity(scale: float = 1.0) -> Initializer:
    """``scale · I`` (square shapes only): the IRNN recurrent kernel of Le et al. (2015)."""

    def init(key: Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> Array:
        del key
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"identity: expected a square shape (H, H), got {shape}")
        return scale * jnp.eye(shape[0], dtype=dtype)

    return init


def spectral_radius(w: Array) -> Array:
    """``ρ(W) = max_i |λ_i(W)|`` for a square matrix (eigenvalues via ``jnp.linalg.eigvals``)."""
    return jnp.max(jnp.abs(jnp.linalg.eigvals(w)))


def scale_spectral_radius(w: Array, rho: float) -> Array:
    """Rescale ``W`` so that its spectral radius is ``rho``: ``W · rho / ρ(W)``."""
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"scale_spectral_radius: expected a square (H, H) matrix, got {w.shape}")
    return (w * (rho / spectral_radius(w))).astype(w.dtype)


def scale_spectral_norm(w: Array, sigma: float) -> Array:
    """Rescale ``W`` so that its largest singular value is ``sigma``: ``W · sigma / σ_max(W)``."""
    if w.ndim != 2:
        raise ValueError(f"scale_spectral_norm: expected a 2-D matrix, got shape {w.shape}")
    return (w * (sigma / jnp.linalg.norm(w, ord=2))).astype(w.dtype)


def chrono_bias(key: Array, hidden_size: int, t_max: float, dtype: Any = jnp.float32
                ) -> tuple[Array, Array]:
    """Chrono initialisation (Tallec & Ollivier 2018): returns ``(b_i, b_f)``.

    ``b_f = log u``, ``u ~ U[1, t_max − 1]`` and ``b_i = −b_f``: at initialisation the forget
    gate ``σ(b_f)`` gives characteristic forgetting times ``≈ u`` spread over the range of
    dependencies the task needs.
    """
    if t_max <= 2:
        raise ValueError(f"chrono_bias: t_max must be > 2 (the longest dependency), got {t_max}")
    u = jax.random.uniform(key, (hidden_size,), jnp.promote_types(dtype, jnp.float32), 1.0,
                           t_max - 1.0)
    b_f = jnp.log(u).astype(dtype)
    return -b_f, b_f


NAMES: dict[str, Callable[[], Initializer]] = {
    "orthogonal": orthogonal,
    "identity": identity,
    "lecun_normal": jax.nn.initializers.lecun_normal,
    "glorot_uniform": jax.nn.initializers.glorot_uniform,
    "glorot_normal": jax.nn.initializers.glorot_normal,
    "zeros": lambda: jax.nn.initializers.zeros,
}


def resolve(spec: str | Initializer, what: str) -> Initializer:
    """Turn an initialiser name from :data:`NAMES` or a callable into an initialiser."""
    if callable(spec):
        return spec
    if spec not in NAMES:
        raise ValueError(f"{what}: unknown initialiser {spec!r}; expected a callable or one of "
                         f"{sorted(NAMES)}")
    return NAMES[spec]()


def init_recurrent(init: Initializer, key: Array, hidden_size: int, blocks: int,
                   dtype: Any = jnp.float32) -> Array:
    """A ``(H, blocks·H)`` recurrent kernel made of ``blocks`` independent ``(H, H)`` blocks.

    Gated cells initialise each gate's recurrent matrix on its own (so each is orthogonal),
    as Keras, Flax and PyTorch users expect.

    The blocks are drawn by one vmapped call, so an orthogonal init is one batched QR rather
    than ``blocks`` independent ones. That is also a workaround: jaxlib 0.10's CPU LAPACK
    kernels block a thread-pool worker per batched call while they wait for their own chunks,
    so a program with at least pool-size independent batched decompositions (say a vmapped
    LSTM init, four QRs, on a 2-core machine) can deadlock.
    """
    keys = jax.random.split(key, blocks)
    w = jax.vmap(lambda k: init(k, (hidden_size, hidden_size), dtype))(keys)  # (blocks, H, H)
    return w.transpose(1, 0, 2).reshape(hidden_size, blocks * hidden_size)


# ----------------------------------------------------------------------------- learned carry


class LearnedCarryParams(NamedTuple):
    """Parameters of :func:`learned_initial_carry`: the wrapped cell's and the carry ``h_0``."""

    cell: Any
    carry0: Any


@cell_constructor
def learned_initial_carry(cell: Cell | Layer, *, param_dtype: Any = jnp.float32) -> Cell | Layer:
    """Make the initial carry ``h_0`` a trainable parameter (zeros at initialisation).

    The returned cell (a layer when ``cell`` is one) has params
    ``LearnedCarryParams(cell=params, carry0=carry)``, with ``carry0`` stored in ``param_dtype``
    (its complex counterpart for a complex carry);
    its ``initial_carry(params, batch_shape)`` broadcasts ``carry0`` to ``(*batch_shape, ...)``
    in the wrapped cell's carry dtype, so gradients reach ``carry0`` through
    :func:`rnnjax.unroll` like any other parameter. Every capability of ``cell`` (the input
    projection split, the affine form for ``method="associative"``) is kept.
    """
    if not isinstance(cell, (Cell, Layer)):
        raise TypeError("learned_initial_carry: expected an rnnjax.Cell or rnnjax.Layer, got "
                        f"{type(cell).__name__}")
    param_dtype = _checks.float_dtype(param_dtype, "learned_initial_carry param_dtype")

    def init(key: Array, input_size: int) -> LearnedCarryParams:
        params = cell.init(key, input_size)
        pdt = _checks.resolve_float(param_dtype)  # complex carries (the LRU's) stay complex
        carry0 = jax.tree.map(lambda c: c.astype(jnp.promote_types(pdt, c.dtype)
                                                 if jnp.iscomplexobj(c) else pdt),
                              cell.initial_carry(params, ()))
        return LearnedCarryParams(params, carry0)

    def initial_carry(params: LearnedCarryParams, batch_shape=()) -> Any:
        batch_shape = _checks.batch_shape(batch_shape)
        like = jax.eval_shape(lambda p: cell.initial_carry(p, ()), params.cell)
        return jax.tree.map(lambda c, e: jnp.broadcast_to(c.astype(e.dtype), (*batch_shape, *c.shape)),
                            params.carry0, like)

    return with_params(cell, lambda params: params.cell, init=init, initial_carry=initial_carry,
                       name=f"learned_carry({cell.name})")
