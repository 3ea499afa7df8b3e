"""The CPU's floating-point mode inside compiled loops: IEEE subnormals, or flushed to zero.

A long run of the school's problem grows a broad front of tiny V values (``v ~ 1e-20`` makes
``v * v`` subnormal, below 1.2e-38 in float32). On x86 every vector operation that produces or
reads a subnormal takes a microcode assist, so such runs slow down by up to 4x on the numba
backends (BENCHMARKS.md). Setting the MXCSR's flush-to-zero (FTZ, bit 15) and
denormals-are-zero (DAZ, bit 6) bits makes those operations give 0 at full speed; results then
differ from IEEE arithmetic (and the school's NumPy reference) in values below ~1e-38.

The MXCSR is per thread, so a compiled loop sets it in every thread that computes
(:func:`get_csr`, :func:`set_csr`, called with a mask of :data:`FLUSH`) and restores the value
it found before returning: NumPy and the rest of the process keep IEEE arithmetic. A mask of 0
(:data:`KEEP`) changes nothing. On a CPU that is not x86-64 the intrinsics compile to nothing
(:func:`get_csr` returns 0) and :func:`flush_supported` is False, so the option is refused.
"""

from __future__ import annotations

import platform

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: MXCSR bits: flush-to-zero (results) | denormals-are-zero (inputs).
FLUSH = 0x8040
#: No change: IEEE arithmetic, subnormals kept.
KEEP = 0
#: The values of the backends' ``subnormals`` option, and the mask each one means.
MASKS = {"keep": KEEP, "flush": FLUSH}

_X86 = platform.machine().lower() in ("x86_64", "amd64")


def flush_supported() -> bool:
    """Whether this CPU has the MXCSR modes the ``flush`` option sets (x86-64 only)."""
    return _X86


def _csr_call(builder: ir.IRBuilder, name: str, ptr: ir.Value, fence: bool = True) -> None:
    fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType(ir.IntType(8))])
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    # LLVM assumes the default FP environment and knows the intrinsic touches only its own
    # argument, so it could move array loads and stores across a mode change. An empty asm that
    # clobbers memory keeps every load and store on its side: arithmetic on values loaded after
    # the change and stored before the restore is done in the mode. (Arithmetic whose result
    # stays in a register may still move: the kernels store everything they compute.)
    barrier = ir.InlineAsm(ir.FunctionType(ir.VoidType(), []), "", "~{memory}",
                           side_effect=True)
    if fence:
        builder.call(barrier, [])
    builder.call(fn, [builder.bitcast(ptr, ir.PointerType(ir.IntType(8)))])
    if fence:
        builder.call(barrier, [])


@intrinsic
def get_csr(typingctx):  # pragma: no cover  (compiled)
    """The calling thread's MXCSR (0 where not x86-64)."""

    def codegen(context, builder, sig, args):
        if not _X86:
            return ir.Constant(ir.IntType(32), 0)
        ptr = cgutils.alloca_once(builder, ir.IntType(32))
        _csr_call(builder, "llvm.x86.sse.stmxcsr", ptr, fence=False)
        return builder.load(ptr)

    return types.uint32(), codegen


@intrinsic
def set_csr(typingctx, value):  # pragma: no cover  (compiled)
    """Load ``value`` into the calling thread's MXCSR (nothing where not x86-64)."""

    if not isinstance(value, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        if _X86:
            word = context.cast(builder, args[0], sig.args[0], types.uint32)
            ptr = cgutils.alloca_once_value(builder, word)
            _csr_call(builder, "llvm.x86.sse.ldmxcsr", ptr)
        return context.get_dummy_value()

    return types.void(value), codegen


@njit(cache=True, nogil=True)
def enter(mask):  # pragma: no cover  (compiled)
    """Set ``mask``'s bits in this thread's MXCSR; returns the value to give :func:`leave`."""
    old = get_csr()
    if mask:
        set_csr(old | mask)
    return old


@njit(cache=True, nogil=True)
def leave(old, mask):  # pragma: no cover  (compiled)
    """Put back the ``mask`` bits :func:`enter` found (nothing to do for a mask of 0); the
    exception flags raised meanwhile stay raised, as they would without the mode change."""
    if mask:
        set_csr((get_csr() & ~mask) | (old & mask))
