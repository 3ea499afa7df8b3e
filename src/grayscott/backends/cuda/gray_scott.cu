/* The Gray-Scott step as one CUDA kernel: every stencil, border and dtype (float32/float64).
 *
 * The same source compiles three ways:
 *   - with NVRTC (the `cupy` backend, CuPy's RawModule) or nvcc: the kernel `gs_step`;
 *   - with a host C compiler (the tests): plain functions that run the very same per-thread code
 *     over an emulated grid of blocks, so the arithmetic is checked against `numba` bit for bit
 *     on a machine without a GPU.
 * GS_REAL (float or double) picks the dtype, GS_ROWS how many rows one thread computes.
 *
 * Arithmetic: exactly the order of the Numba kernel (grayscott/backends/numba_kernels.py): the
 * nine weighted terms summed left to right in row-major order, centre weight in place; then, on
 * a school border's edge cells only, `lap = lap + d * x`; then
 * `x + dt * (Du * lap_u - u*v*v + F * (1 - u))` and `v + dt * (Dv * lap_v + u*v*v - (F+k) * v)`.
 * Nothing may be contracted into fused multiply-adds, so it must be compiled with
 * `--fmad=false` (NVRTC, nvcc) or `-ffp-contract=off` (gcc, clang): then every operation is one
 * IEEE-rounded add or multiply, as in Numba without fastmath, and the results are identical.
 *
 * Borders read the value Numba's ghost ring would hold: the wrapped-around cell (periodic),
 * the fixed ghost value (fixed: U = 1, V = 0), or 0 (school, whose deficit corrects the centre).
 * Fields are unpadded, row-major (nr, nc); the kernel reads (U, V) and writes (U2, V2).
 *
 * P holds the runtime parameters, in the field's dtype:
 *   P[0..8]   the 3x3 weights, row-major, centre = -sum(neighbours)
 *   P[9..14]  Du, Dv, F, F + k (rounded once), dt, 1
 *   P[15..16] ghost values of U and V
 *   P[17..25] the school border's deficit by (row class, column class): first/inner/last
 */

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define GS_CUDA 1
#define GS_DEVICE __device__ __forceinline__
#define GS_RESTRICT __restrict__
#define GS_LDG(p) __ldg(p)
#define GS_UNROLL _Pragma("unroll")
#else
#define GS_DEVICE static inline
#define GS_RESTRICT restrict
#define GS_LDG(p) (*(p))
#define GS_UNROLL
#endif

#ifndef GS_REAL
#define GS_REAL float
#endif
#ifndef GS_ROWS
#define GS_ROWS 8
#endif

typedef GS_REAL real;
typedef long long gs_idx; /* cell index: 64-bit, no header needed (NVRTC has none) */

#define GS_SCHOOL 0
#define GS_PERIODIC 1
#define GS_FIXED 2
#define GS_NPARAMS 26

/* X[i, j] for i in [-1, nr], j in [-1, nc]: the cell, or what the ghost ring holds there. */
GS_DEVICE real gs_load(const real* GS_RESTRICT X, int i, int j, int nr, int nc, int border,
                       real ghost)
{
    if (border == GS_PERIODIC) {
        i = i < 0 ? i + nr : (i >= nr ? i - nr : i);
        j = j < 0 ? j + nc : (j >= nc ? j - nc : j);
    } else if (i < 0 || i >= nr || j < 0 || j >= nc) {
        return ghost;
    }
    return GS_LDG(X + ((gs_idx)i * (gs_idx)nc + (gs_idx)j));
}

/* One cell from its 3x3 neighbourhoods (a: row above, b: its row, c: row below; 0, 1, 2: left,
 * centre, right), in the Numba kernel's order of operations. */
GS_DEVICE void gs_cell(const real* w, const real* k, int corr, real d,
                       real ua0, real ua1, real ua2, real ub0, real ub1, real ub2,
                       real uc0, real uc1, real uc2,
                       real va0, real va1, real va2, real vb0, real vb1, real vb2,
                       real vc0, real vc1, real vc2,
                       real* uo, real* vo)
{
    real lu = w[0] * ua0 + w[1] * ua1 + w[2] * ua2
            + w[3] * ub0 + w[4] * ub1 + w[5] * ub2
            + w[6] * uc0 + w[7] * uc1 + w[8] * uc2;
    real lv = w[0] * va0 + w[1] * va1 + w[2] * va2
            + w[3] * vb0 + w[4] * vb1 + w[5] * vb2
            + w[6] * vc0 + w[7] * vc1 + w[8] * vc2;
    real u = ub1;
    real v = vb1;
    real uvv;
    if (corr) { /* school border, edge cell: outside neighbours must not count in the centre */
        lu = lu + d * u;
        lv = lv + d * v;
    }
    uvv = u * v * v;
    /* k: Du, Dv, F, F + k, dt, 1 */
    *uo = u + k[4] * (k[0] * lu - uvv + k[2] * (k[5] - u));
    *vo = v + k[4] * (k[1] * lv + uvv - k[3] * v);
}

/* What one thread does: column j, rows [i0, i0 + rows), sliding a 3-row window down the column
 * so that each row of U and V is read once per thread (its left and right neighbours come from
 * the neighbouring threads' reads, through the cache). */
GS_DEVICE void gs_thread(const real* GS_RESTRICT U, const real* GS_RESTRICT V,
                         real* GS_RESTRICT U2, real* GS_RESTRICT V2,
                         const real* GS_RESTRICT P, int nr, int nc, int border, int has_deficit,
                         int j, int i0, int rows)
{
    real w[9], k[6], gu, gv;
    real ua0, ua1, ua2, ub0, ub1, ub2, va0, va1, va2, vb0, vb1, vb2;
    int r, n;
    if (j >= nc || i0 >= nr)
        return;
    for (n = 0; n < 9; ++n)
        w[n] = GS_LDG(P + n);
    for (n = 0; n < 6; ++n)
        k[n] = GS_LDG(P + 9 + n);
    gu = GS_LDG(P + 15);
    gv = GS_LDG(P + 16);
    ua0 = gs_load(U, i0 - 1, j - 1, nr, nc, border, gu);
    ua1 = gs_load(U, i0 - 1, j, nr, nc, border, gu);
    ua2 = gs_load(U, i0 - 1, j + 1, nr, nc, border, gu);
    ub0 = gs_load(U, i0, j - 1, nr, nc, border, gu);
    ub1 = gs_load(U, i0, j, nr, nc, border, gu);
    ub2 = gs_load(U, i0, j + 1, nr, nc, border, gu);
    va0 = gs_load(V, i0 - 1, j - 1, nr, nc, border, gv);
    va1 = gs_load(V, i0 - 1, j, nr, nc, border, gv);
    va2 = gs_load(V, i0 - 1, j + 1, nr, nc, border, gv);
    vb0 = gs_load(V, i0, j - 1, nr, nc, border, gv);
    vb1 = gs_load(V, i0, j, nr, nc, border, gv);
    vb2 = gs_load(V, i0, j + 1, nr, nc, border, gv);
    /* rows is a compile-time constant in the kernel: unrolled, the loads of later rows can be
     * issued early (more memory requests in flight per thread). */
    GS_UNROLL
    for (r = 0; r < rows; ++r) {
        int i = i0 + r;
        if (i >= nr) /* the last block of rows may be partial: read nothing past it */
            break;
        real uc0 = gs_load(U, i + 1, j - 1, nr, nc, border, gu);
        real uc1 = gs_load(U, i + 1, j, nr, nc, border, gu);
        real uc2 = gs_load(U, i + 1, j + 1, nr, nc, border, gu);
        real vc0 = gs_load(V, i + 1, j - 1, nr, nc, border, gv);
        real vc1 = gs_load(V, i + 1, j, nr, nc, border, gv);
        real vc2 = gs_load(V, i + 1, j + 1, nr, nc, border, gv);
        int corr = has_deficit && (i == 0 || i == nr - 1 || j == 0 || j == nc - 1);
        real d = 0;
        gs_idx at = (gs_idx)i * (gs_idx)nc + (gs_idx)j;
        if (corr) {
            int rc = i == 0 ? 0 : (i == nr - 1 ? 2 : 1);
            int cc = j == 0 ? 0 : (j == nc - 1 ? 2 : 1);
            d = GS_LDG(P + 17 + 3 * rc + cc);
        }
        gs_cell(w, k, corr, d, ua0, ua1, ua2, ub0, ub1, ub2, uc0, uc1, uc2,
                va0, va1, va2, vb0, vb1, vb2, vc0, vc1, vc2, U2 + at, V2 + at);
        ua0 = ub0; ua1 = ub1; ua2 = ub2; ub0 = uc0; ub1 = uc1; ub2 = uc2;
        va0 = vb0; va1 = vb1; va2 = vb2; vb0 = vc0; vb1 = vc1; vb2 = vc2;
    }
}

#ifdef GS_CUDA
/* One step. Launch with block (bx, 1) and grid (ceil(nc / bx), ceil(nr / GS_ROWS)). */
extern "C" __global__ void gs_step(const real* __restrict__ U, const real* __restrict__ V,
                                   real* __restrict__ U2, real* __restrict__ V2,
                                   const real* __restrict__ P, int nr, int nc, int border,
                                   int has_deficit)
{
    gs_thread(U, V, U2, V2, P, nr, nc, border, has_deficit,
              (int)(blockIdx.x * blockDim.x + threadIdx.x), (int)(blockIdx.y * GS_ROWS),
              GS_ROWS);
}
#else
/* Host emulation of the launch above: every (block, thread) of the same grid, in turn. */
void gs_step_grid(const real* U, const real* V, real* U2, real* V2, const real* P, int nr,
                  int nc, int border, int has_deficit, int bx, int rows)
{
    int gx = (nc + bx - 1) / bx, gy = (nr + rows - 1) / rows, bxi, byi, t;
    for (byi = 0; byi < gy; ++byi)
        for (bxi = 0; bxi < gx; ++bxi)
            for (t = 0; t < bx; ++t)
                gs_thread(U, V, U2, V2, P, nr, nc, border, has_deficit, bxi * bx + t,
                          byi * rows, rows);
}

/* nsteps steps, swapping (U, V) and (U2, V2); returns nsteps % 2 (1: the state is in U2, V2). */
int gs_advance_grid(real* U, real* V, real* U2, real* V2, const real* P, int nr, int nc,
                    int border, int has_deficit, int bx, int rows, int nsteps)
{
    int s;
    for (s = 0; s < nsteps; ++s) {
        if (s % 2 == 0)
            gs_step_grid(U, V, U2, V2, P, nr, nc, border, has_deficit, bx, rows);
        else
            gs_step_grid(U2, V2, U, V, P, nr, nc, border, has_deficit, bx, rows);
    }
    return nsteps % 2;
}
#endif
