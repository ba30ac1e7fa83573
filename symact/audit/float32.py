"""Float32 overflow: where each quantity's formula as written gives inf, NaN or a false 0
in float32 although the true value is a finite float32, and whether the generated
(stable) form gets it right there."""

from __future__ import annotations

import mpmath
import numpy as np

from ..derive import Quantity
from ..numeric import cross_reference, mp_function, np_function
from .context import AuditContext, evaluate_grid
from .findings import Outcome
from .formats import assignments, short

#: Inputs tried, both signs: around where exp overflows in float32 (x = 88.7) and beyond.
_XS = [s * m for m in (1.0, 10.0, 20.0, 50.0, 88.5, 100.0, 1e3, 1e4) for s in (1.0, -1.0)]
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def check(ctx: AuditContext) -> Outcome:
    out = Outcome()
    for q in ctx.derivation.quantities:
        _check_quantity(ctx, q, out)
    return out


def _check_quantity(ctx: AuditContext, q: Quantity, out: Outcome) -> None:
    """At most one finding per quantity: the first input, at the first of the first three
    settings, where the naive float32 formula breaks."""
    naive = np_function(q.exact, ctx.symbols)
    stable = np_function(q.printed, ctx.symbols)
    exact = mp_function(q.exact, ctx.symbols)
    printed_mp = mp_function(q.identity, ctx.symbols)
    for values in ctx.settings[:3]:
        pvals = [np.float32(values[p]) for p in ctx.params]
        arr = np.asarray(_XS, dtype=np.float32)
        got = evaluate_grid(naive, arr, pvals)
        fixed = evaluate_grid(stable, arr, pvals)
        if got is None or fixed is None:
            out.undecided.append(f"float32 behaviour of {q.name} (NumPy cannot evaluate it)")
            return
        for xv, g, fx in zip(_XS, got, fixed):
            ref = cross_reference(exact, printed_mp, [float(np.float32(xv)), *map(float, pvals)])
            if ref is None or isinstance(ref, mpmath.mpc) or not mpmath.isfinite(ref):
                continue
            if abs(ref) > _FLOAT32_MAX:
                continue
            broken = not np.isfinite(g) or (g == 0 and abs(ref) >= _FLOAT32_TINY * 2**23)
            if not broken:
                continue
            ok = np.isfinite(fx) and abs(float(fx) - float(ref)) <= 1e-5 * abs(float(ref)) + 1e-38
            out.add(
                "float32-overflow",
                f"{q.name}: the formula as written gives {g} in float32 at x = {short(xv)}"
                f"{', ' + assignments(values) if values else ''} where the true value is "
                f"{mpmath.nstr(ref, 8)}; the generated code {'gives ' + f'{float(fx):.8g}' if ok else 'does NOT fix it'}",
                {"quantity": q.name, "x": xv, "fixed": bool(ok)},
                "float32 evaluation vs mpmath",
                severity="info" if ok else "",
            )
            return
