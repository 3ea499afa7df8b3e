# ruff: noqa: E501
"""Wrong answers a learner might give, each put in place of an exercise's stub (see
tests/test_notebooks.py): (notebook, exercise cell id) -> [(the code, what its check must say)].
Most compute the right numbers the wrong way (a hidden Python loop, the package's own solution, a
median that equals the mean on an easy input), so only a check that looks at the approach, or an
input chosen to tell them apart, catches them."""

WRONG_ANSWERS = {
    # ------------------------------------------------------------------ 1. Optimization
    ("1_Optimization", "nb1-09"): [
        ("return 1000 * min(timeit.repeat(fn, number=1, repeat=3))  # milliseconds",
         "return the shortest, in seconds"),
        ("times = timeit.repeat(fn, number=1, repeat=3)\nreturn sum(times) / len(times)",
         "not the mean"),
        ("return timeit.timeit(fn, number=1)  # one timing only", "called fn 1 times"),
        ("return timeit.repeat(fn, number=1, repeat=3)  # the list", "return one float"),
    ],
    ("1_Optimization", "nb1-14"): [
        ("profiler = cProfile.Profile()\nprofiler.enable()\nnaive_step(u, v)\n"
         "naive_step(u, v)\nprofiler.disable()\nstats = pstats.Stats(profiler)\n"
         "stats.sort_stats('tottime').print_stats(5)", "profile exactly one step"),
        ("profiler = cProfile.Profile()\nprofiler.enable()\nnaive_step(u, v)\n"
         "profiler.disable()\nstats = pstats.Stats(profiler)\n"
         "stats.sort_stats('cumulative').print_stats(5)", "sort the stats by tottime"),
        ("profiler = cProfile.Profile()\nprofiler.enable()\nnaive_step(u, v)\n"
         "profiler.disable()\nstats = pstats.Stats(profiler)\nstats.print_stats(5)",
         "sort the stats by tottime"),
    ],
    ("1_Optimization", "nb1-17"): [
        ("tracemalloc.start()\nfn()\ncurrent, _ = tracemalloc.get_traced_memory()\n"
         "tracemalloc.stop()\nreturn current", "return the peak"),
        ("tracemalloc.start()\nfn()\nreturn tracemalloc.get_traced_memory()[1]",
         "stop tracemalloc before returning"),
        ("fn()\ntracemalloc.start()\npeak = tracemalloc.get_traced_memory()[1]\n"
         "tracemalloc.stop()\nreturn peak", "while tracemalloc traces"),
    ],
    ("1_Optimization", "nb1-23"): [
        ("naive_rows(u, v, u2, v2, range(nr))  # no threads at all",
         "no two calls of naive_rows ran at the same time"),
        ("with ThreadPoolExecutor(nthreads) as pool:\n"
         "    list(pool.map(lambda t: naive_rows(u, v, u2, v2, range(nr)), range(nthreads)))",
         "every row exactly once"),
        ("half = nr // 2\nwith ThreadPoolExecutor(nthreads) as pool:\n"
         "    pool.submit(naive_rows, u, v, u2, v2, range(half)).result()\n"
         "    pool.submit(naive_rows, u, v, u2, v2, range(half, nr)).result()",
         "no two calls of naive_rows ran at the same time"),
    ],
    # ------------------------------------------------------------------ 2. NumPy
    ("2_Numpy", "nb2-06"): [
        ("return np.empty(shape, dtype).nbytes", "without creating the array"),
        ("return int(np.prod(shape)) * 4  # float32's size", "expected"),
        ("return len(shape) * np.dtype(dtype).itemsize", "elements times the bytes"),
    ],
    ("2_Numpy", "nb2-11"): [
        ("nr, nc = X.shape[0] - 2, X.shape[1] - 2\n"
         "return X[1 + di:1 + di + nr, 1 + dj:1 + dj + nc].copy()", "a view of X"),
        ("return np.roll(X, (-di, -dj), axis=(0, 1))[1:-1, 1:-1]", "a view of X"),
        ("return X[1 + di:-1 + di, 1 + dj:-1 + dj]",
         "expected (3, 4)"),
    ],
    ("2_Numpy", "nb2-16"): [
        ("inside = np.zeros((nbrow, nbcol), dtype=bool)\n"
         "for i in range(nbrow):\n"
         "    for j in range(nbcol):\n"
         "        inside[i, j] = (i - nbrow / 2) ** 2 + (j - nbcol / 2) ** 2 < radius**2",
         "a Python loop does the work"),
        ("inside = np.vectorize(lambda i, j: (i - nbrow / 2) ** 2 + (j - nbcol / 2) ** 2\n"
         "                      < radius**2)(*np.indices((nbrow, nbcol)))",
         "a Python loop does the work"),
        ("inside = np.array([[(i - nbrow / 2) ** 2 + (j - nbcol / 2) ** 2 < radius**2\n"
         "                    for j in range(nbcol)] for i in range(nbrow)])",
         "a Python loop does the work"),
        ("inside = np.array(list(map(lambda i: (i - nbrow / 2) ** 2\n"
         "    + (np.arange(nbcol) - nbcol / 2) ** 2 < radius**2, range(nbrow))))",
         "a Python loop does the work"),
        ("inside = (np.arange(nbrow)[:, None] - nbrow // 2) ** 2 "
         "+ (np.arange(nbcol) - nbcol // 2) ** 2 < radius**2", "the disk"),
    ],
    ("2_Numpy", "nb2-21"): [
        ("return laplacian_loops(X)", "build the Laplacian from the views"),
        ("nr, nc = X.shape[0] - 2, X.shape[1] - 2\nout = np.empty((nr, nc), X.dtype)\n"
         "for i in range(nr):\n"
         "    out[i] = (sum(neighbour(X, di, dj)[i] for di in (-1, 0, 1) for dj in (-1, 0, 1))\n"
         "              - 9 * X[i + 1, 1:-1])\nreturn out",
         "a Python loop does the work"),
        ("from grayscott.backends.numpy_school import laplacian\n"
         "return laplacian(X, gs.get_stencil('school'))",
         "build the Laplacian from the views"),
        ("total = -8 * neighbour(X, 0, 0)\nfor di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)):\n"
         "    total = total + neighbour(X, di, dj)\nreturn total", "differs from laplacian_loops"),
    ],
    ("2_Numpy", "nb2-24"): [
        ("out[:] = laplacian_slices(X)", "a temporary is left"),
        ("out = laplacian_slices(X)", "return out itself"),
        ("np.multiply(neighbour(X, 0, 0), -8, out=out)\n"
         "out += sum(neighbour(X, di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1)\n"
         "           if (di, dj) != (0, 0))", "a temporary is left"),
    ],
    # ------------------------------------------------------------------ 3. Python implementation
    ("3_Python_Implementation", "nb3-04"): [
        ("return tuple(a.astype(np.float32) for a in gs.make_initial('school', (nbrow, nbcol)))",
         "uses the package"),
        ("u = np.ones((nbrow, nbcol), dtype=np.float32)\nv = np.zeros((nbrow, nbcol), np.float32)\n"
         "rows = slice(nbrow * 7 // 16 - 4, nbrow * 8 // 16 - 4)  # no clamp\n"
         "cols = slice(nbcol * 7 // 16, nbcol * 8 // 16)\nu[rows, cols] = 0.0\nv[rows, cols] = 1.0\n"
         "return u, v", "rows clamped at 0"),
        ("u = np.ones((nbrow, nbcol), dtype=np.float32)\nv = np.zeros((nbrow, nbcol), np.float32)\n"
         "for i in range(max(nbrow * 7 // 16 - 4, 0), max(nbrow * 8 // 16 - 4, 0)):\n"
         "    for j in range(nbcol * 7 // 16, nbcol * 8 // 16):\n"
         "        u[i, j], v[i, j] = 0.0, 1.0\nreturn u, v", "a Python loop does the work"),
        ("u = np.ones((nbrow, nbcol))\nv = np.zeros((nbrow, nbcol))\n"
         "rows = slice(max(nbrow * 7 // 16 - 4, 0), max(nbrow * 8 // 16 - 4, 0))\n"
         "cols = slice(nbcol * 7 // 16, nbcol * 8 // 16)\nu[rows, cols] = 0.0\nv[rows, cols] = 1.0\n"
         "return u, v", "use float32"),
    ],
    ("3_Python_Implementation", "nb3-07"): [
        (("return sum(np.roll(x, (a, b), axis=(0, 1)) for a in (-1, 0, 1) for b in (-1, 0, 1)\n"
          "           if (a, b) != (0, 0))", "return neighbour_sum(x) - inside * x"),
         "outside neighbours count 0"),
        (("X = np.pad(x, 1)\nnr, nc = x.shape\n"
          "return sum(X[a:a + nr, b:b + nc] for a in range(3) for b in range(3) if (a, b) != (1, 1))",
          "return neighbour_sum(x) - 8 * x"), "border included"),
        (("X = np.pad(x, 1)\nnr, nc = x.shape\n"
          "return sum(X[a:a + nr, b:b + nc] for a in range(3) for b in range(3) if (a, b) != (1, 1))",
          "return reference.laplacian(x, gs.get_stencil('school'), 'school')"), "uses the package"),
        (("out = np.zeros_like(x)\nnr, nc = x.shape\nfor i in range(nr):\n"
          "    for di in (-1, 0, 1):\n        if 0 <= i + di < nr:\n"
          "            r = x[i + di]\n            out[i] += r + np.r_[0, r[:-1]] + np.r_[r[1:], 0]\n"
          "    out[i] -= x[i]\nreturn out", "return neighbour_sum(x) - inside * x"),
         "a Python loop does the work"),
    ],
    ("3_Python_Implementation", "nb3-10"): [
        ("uvv = u * v * v\n"
         "u_new = u + params.dt * (params.Du * laplacian(u, INSIDE) - uvv + params.F * (1 - u))\n"
         "v_new = v + params.dt * (params.Dv * laplacian(v, INSIDE) + uvv\n"
         "                         - (params.F + params.k) * v)\nreturn u_new, v_new",
         "use p's rates"),
        ("return reference.step(u, v, gs.make_problem(u.shape, params=p))", "uses the package"),
        ("uvv = u * v * v\n"
         "u_new = u + p.dt * (p.Du * laplacian(u, INSIDE) - uvv + p.F * (1.0 - u))\n"
         "v_new = v + p.dt * (p.Dv * laplacian(v, INSIDE) + uvv - (p.F + p.k) * v)\n"
         "return u_new.astype(np.float64), v_new.astype(np.float64)", "keep the fields float32"),
        ("uvv = u * v * v\n"
         "u_new = u + p.dt * (p.Du * laplacian(u, INSIDE) - uvv + p.F * (1 - u))\n"
         "v_new = v + p.dt * (p.Dv * laplacian(v, INSIDE) + uvv - p.k * v)\nreturn u_new, v_new",
         "use p's rates"),
    ],
    ("3_Python_Implementation", "nb3-13"): [
        ("sim = gs.Simulation(gs.make_problem(u.shape, params=p), backend='numpy-school',\n"
         "                    state=(u, v))\nyield from sim.frames(nbimage=nbimage, nbextrastep=nbextrastep)",
         "calls of step"),
        ("out = []\nfor _ in range(nbimage):\n    for _ in range(nbextrastep):\n"
         "        u, v = step(u, v, p)\n    out.append(v)\nyield from out  # all computed first",
         "compute each frame when it is asked for"),
        ("for _ in range(nbimage):\n    yield v\n    for _ in range(nbextrastep):\n"
         "        u, v = step(u, v, p)", "calls of step"),
    ],
    ("3_Python_Implementation", "nb3-16"): [
        ("import grayscott.io  # the package's writer, at hand\n"
         "with h5py.File(path, 'w') as f:\n"
         "    m = f.create_dataset('matrix', shape=(nbimage, *shape), dtype='float32', chunks=(1, *shape))\n"
         "    for i, frame in enumerate(frame_iter):\n        m[i] = frame", 'write_school_file uses the package'),
        ("data = np.stack(list(frame_iter))  # every frame in memory\n"
         "with h5py.File(path, 'w') as f:\n"
         "    f.create_dataset('matrix', data=data, chunks=(1, *shape))",
         "not all the frames gathered"),
        ("frames_list = list(frame_iter)\nwith h5py.File(path, 'w') as f:\n"
         "    m = f.create_dataset('matrix', shape=(nbimage, *shape), dtype='float32',\n"
         "                         chunks=(1, *shape))\n"
         "    for i, frame in enumerate(frames_list):\n        m[i] = frame",
         "not all the frames gathered"),
        ("with h5py.File(path, 'w') as f:\n"
         "    m = f.create_dataset('matrix', shape=(nbimage, *shape), dtype='float32')\n"
         "    for i, frame in enumerate(frame_iter):\n        m[i] = frame", "one frame per chunk"),
        ("with h5py.File(path, 'w') as f:\n"
         "    m = f.create_dataset('matrix', shape=(nbimage, *shape), dtype='float64',\n"
         "                         chunks=(1, *shape))\n"
         "    for i, frame in enumerate(frame_iter):\n        m[i] = frame", "float32"),
    ],
    # ------------------------------------------------------------------ 4. Numba
    ('4_Numba_Implementation', 'nb4-06'): [
        ('inside = 8\nsu = (U[i - 1, j - 1] + U[i - 1, j] + U[i - 1, j + 1] + U[i, j - 1]\n      + U[i, j + 1] + U[i + 1, j - 1] + U[i + 1, j] + U[i + 1, j + 1])\nsv = (V[i - 1, j - 1] + V[i - 1, j] + V[i - 1, j + 1] + V[i, j - 1]\n      + V[i, j + 1] + V[i + 1, j - 1] + V[i + 1, j] + V[i + 1, j + 1])\nuc, vc = U[i, j], V[i, j]\nuvv = uc * vc * vc\nU2[i, j] = uc + dt * (Du * (su - inside * uc) - uvv + F * (1 - uc))\nV2[i, j] = vc + dt * (Dv * (sv - inside * vc) + uvv - (F + k) * vc)',
         'the 8 neighbours inside'),
        ('inside = (2 - (i == 1) - (i == nr)) + (2 - (j == 1) - (j == nc)) + 1 - 5\nsu = U[i - 1, j] + U[i + 1, j] + U[i, j - 1] + U[i, j + 1]\nsv = V[i - 1, j] + V[i + 1, j] + V[i, j - 1] + V[i, j + 1]\nuc, vc = U[i, j], V[i, j]\nuvv = uc * vc * vc\nU2[i, j] = uc + dt * (Du * (su - inside * uc) - uvv + F * (1 - uc))\nV2[i, j] = vc + dt * (Dv * (sv - inside * vc) + uvv - (F + k) * vc)',
         'differ from numpy-school'),
        ('inside = (3 - (i == 1) - (i == nr)) * (3 - (j == 1) - (j == nc)) - 1\nsu = (U[i - 1, j - 1] + U[i - 1, j] + U[i - 1, j + 1] + U[i, j - 1]\n      + U[i, j + 1] + U[i + 1, j - 1] + U[i + 1, j] + U[i + 1, j + 1])\nsv = (V[i - 1, j - 1] + V[i - 1, j] + V[i - 1, j + 1] + V[i, j - 1]\n      + V[i, j + 1] + V[i + 1, j - 1] + V[i + 1, j] + V[i + 1, j + 1])\nuc, vc = U[i, j], V[i, j]\nuvv = uc * vc * vc\nU2[i, j] = uc + dt * (Du * (su - inside * uc) - uvv + 0.014 * (1 - uc))\nV2[i, j] = vc + dt * (Dv * (sv - inside * vc) + uvv - (0.014 + 0.054) * vc)',
         'F=0.035, k=0.065'),
    ],
    ('4_Numba_Implementation', 'nb4-11'): [
        ('@njit(parallel=True)\ndef step_prange(U, V, U2, V2, Du, Dv, F, k, dt):\n    for _ in prange(1):\n        step_loop(U, V, U2, V2, Du, Dv, F, k, dt)',
         'none over the rows'),
        ('step_prange = step_loop  # still one thread',
         'parallel option'),
        ('@njit(parallel=True)\ndef step_prange(U, V, U2, V2, Du, Dv, F, k, dt):\n    nr, nc = U.shape[0] - 2, U.shape[1] - 2\n    for i in range(1, nr + 1):\n        for j in prange(1, nc + 1):\n            inside = (3 - (i == 1) - (i == nr)) * (3 - (j == 1) - (j == nc)) - 1\n            su = (U[i - 1, j - 1] + U[i - 1, j] + U[i - 1, j + 1] + U[i, j - 1]\n                  + U[i, j + 1] + U[i + 1, j - 1] + U[i + 1, j] + U[i + 1, j + 1])\n            sv = (V[i - 1, j - 1] + V[i - 1, j] + V[i - 1, j + 1] + V[i, j - 1]\n                  + V[i, j + 1] + V[i + 1, j - 1] + V[i + 1, j] + V[i + 1, j + 1])\n            uc, vc = U[i, j], V[i, j]\n            uvv = uc * vc * vc\n            U2[i, j] = uc + dt * (Du * (su - inside * uc) - uvv + F * (1 - uc))\n            V2[i, j] = vc + dt * (Dv * (sv - inside * vc) + uvv - (F + k) * vc)',
         'none over the rows'),
        ('@njit(parallel=True)\ndef step_prange(U, V, U2, V2, Du, Dv, F, k, dt):\n    step_loop(U, V, U2, V2, Du, Dv, F, k, dt)',
         'no parallel loop'),
    ],
    # ------------------------------------------------------------------ 5-6. JAX
    ('5_JAX', 'nb5-09'): [
        ('predicted_traces = 4  # one per call',
         'jit traces again'),
        ('predicted_traces = 2  # one per shape',
         'jit traces again'),
    ],
    ('5_JAX', 'nb5-16'): [
        ("u, v = (jnp.asarray(a) for a in gs.make_initial('school', (nbrow, nbcol)))",
         'uses the package'),
        ('un = np.ones((nbrow, nbcol), np.float32)\nvn = np.zeros((nbrow, nbcol), np.float32)\nun[rows, cols], vn[rows, cols] = 0.0, 1.0\nu, v = jnp.asarray(un), jnp.asarray(vn)',
         'JAX traced no scatter'),
        ('r = jnp.arange(nbrow)[:, None]\nc = jnp.arange(nbcol)[None, :]\nbox = (r >= rows.start) & (r < rows.stop) & (c >= cols.start) & (c < cols.stop)\nu = jnp.where(box, 0.0, 1.0).astype(jnp.float32)\nv = jnp.where(box, 1.0, 0.0).astype(jnp.float32)',
         'JAX traced no scatter'),
    ],
    ('5_JAX', 'nb5-23'): [
        ('return jnp.nanmedian(jnp.where(x > 0, x, jnp.nan))',
         'not the median'),
        ('return jnp.where(x > 0, x, 0.0).mean()',
         'over all the elements'),
        ('return x[x > 0].mean()',
         'raised'),
    ],
    ('5_JAX', 'nb5-32'): [
        ("b = gs.backends.create('jax', gs.make_problem(u.shape, params=gs.Parameters(F=F, k=k)))\n"
         "b.set_state(u, v)\nb.advance(n)\nreturn b.get_state()", 'advance uses the package'),
        ('def body(i, state):\n    return step(*state)  # the default rates\n\nreturn lax.fori_loop(0, n, body, (u, v))',
         'pass F and k to step'),
        ('for _ in range(n):\n    u, v = step(u, v, F=F, k=k)\nreturn u, v',
         'raised'),
        ('def body(state, _):\n    return step(*state, F=F, k=k), None\n\nreturn lax.scan(body, (u, v), None, length=100)[0]  # a fixed number of steps',
         'must make 7 steps'),
    ],
    ('5_JAX', 'nb5-35'): [
        ("from grayscott.sweep import run_rates\n"
         "return jnp.asarray(run_rates(list(zip(Fs.tolist(), ks.tolist(), strict=True)), NSTEPS, SHAPE, backend='jax'))",
         'run_many uses the package'),
        ('return jnp.stack([advance(u0, v0, NSTEPS, F, k)[1] for F, k in zip(Fs, ks, strict=True)])',
         'one vectorised loop'),
        ('return lax.map(lambda p: advance(u0, v0, NSTEPS, p[0], p[1])[1], (Fs, ks))',
         'one vectorised loop'),
        ('return jax.vmap(lambda F: advance(u0, v0, NSTEPS, F)[1])(Fs)  # k left at its default',
         'run 4 differs'),
    ],
    ('5_JAX', 'nb5-41'): [
        ('derivative_of_total_v = jax.jacfwd(total_v)  # forward mode',
         'no backward pass'),
        ('def derivative_of_total_v(F, h=1e-4):\n    return (total_v(F + h) - total_v(F - h)) / (2 * h)',
         'no backward pass'),
        ('def derivative_of_total_v(F):\n    return jax.jvp(total_v, (F,), (1.0,))[1]',
         'no backward pass'),
    ],
    ('6_JAX_Implementation', 'nb6-06'): [
        ('total = 0.0\nfor a in range(3):\n    for b in range(3):\n        total = total + w[b, a] * X[a:a + nr, b:b + nc]\nreturn total',
         'differs from the sum'),
        ("return jax.scipy.signal.convolve2d(X, w, mode='valid')",
         'differs from the sum'),
        ("return jax.scipy.signal.correlate2d(X, w, mode='valid')",
         'add the nine weighted slices'),
    ],
    ('6_JAX_Implementation', 'nb6-11'): [
        ('w = np.ones((3, 3), np.float32)\nw[1, 1] = 0\nreturn correlate3x3(X, jnp.asarray(w))',
         'neighbours_3x3 multiplies'),
        ('return sum(X[a:a + nr, b:b + nc] for a in range(3) for b in range(3))',
         'not the centre'),
        ("k = jnp.ones((3, 3)).at[1, 1].set(0.0)\nreturn jax.scipy.signal.correlate2d(X, k, mode='valid')",
         'neighbours_3x3 multiplies'),
    ],
    # ------------------------------------------------------------------ 7. Beyond
    ('7_Beyond', 'nb7-06'): [
        ('return np.stack([run_rates([(PRESETS[n].F, PRESETS[n].k)], NSTEPS, SHAPE, initial=initial,\n                            seed=1)[0] for n in names])  # one run per name',
         'one batched call'),
        ('pairs = [(PRESETS[name].k, PRESETS[name].F) for name in names]\nreturn run_rates(pairs, NSTEPS, SHAPE, initial=initial, seed=1)',
         'is not the single run'),
        ('pairs = [(PRESETS[names[0]].F, PRESETS[names[0]].k)] * len(names)\nreturn run_rates(pairs, NSTEPS, SHAPE, initial=initial, seed=1)',
         'mitosis is not'),
    ],
    ('7_Beyond', 'nb7-12'): [
        ('def batched_step(u, v, F, k):\n    out = [step(u[b], v[b], F[b], k[b]) for b in range(u.shape[0])]\n    return jnp.stack([o[0] for o in out]), jnp.stack([o[1] for o in out])',
         'not a loop over members'),
        ('def batched_step(u, v, F, k):\n    return jax.lax.map(lambda a: step(*a), (u, v, F, k))',
         'not a loop over members'),
        ('batched_step = jax.vmap(step, in_axes=(0, 0, None, None))',
         'raised'),
    ],
    # ------------------------------------------------------------------ 8-9. Long runs, wall
    ('8_Long_Runs', 'nb8-04'): [
        ('return float(np.mean(np.abs(x) < np.finfo(x.dtype).tiny))  # zeros counted too',
         'non-zero, below'),
        ('a = np.abs(x)\nreturn float(np.mean((a > 0) & (a < np.finfo(np.float32).tiny)))',
         'float64'),
        ('return sum(1 for e in x if 0 < abs(e) < np.finfo(x.dtype).tiny) / x.size',
         'a Python loop does the work'),
        ('return float(np.mean(np.vectorize(lambda e: 0 < abs(e) < np.finfo(x.dtype).tiny)(x)))',
         'a Python loop does the work'),
    ],
    ('9_Past_The_Wall', 'nb9-10'): [
        ('for upper, lower in zip(bands, bands[1:]):\n    lower[0] = upper[-1]\n    upper[-1] = lower[0]',
         'step differently'),
        ("for b in bands:\n    b[0], b[-1] = b[1], b[-2]  # each band's own edge rows",
         'outside the grid'),
        ('for upper, lower in zip(bands, bands[1:]):\n    lower[0] = upper[-2]  # the upper ghosts only',
         'step differently'),
    ],
    ('8_Long_Runs', 'nb8-09b'): [
        ('return np.where(np.abs(x) <= np.finfo(x.dtype).tiny, x.dtype.type(0), x)',
         'only values below'),
        ('return np.where(np.abs(x) < np.finfo(np.float32).tiny, x.dtype.type(0), x)',
         'only values below'),
        ('return np.array([0.0 if abs(e) < np.finfo(x.dtype).tiny else e for e in x], dtype=x.dtype)',
         'a Python loop does the work'),
        ('return np.where(np.abs(x) < np.finfo(x.dtype).tiny, 0.0, x).astype(np.float64)',
         'keep the dtype'),
    ],
    ('9_Past_The_Wall', 'nb9-03a'): [
        ('return [(lo - (k - s), hi + (k - s)) for s in range(1, k + 1)]  # not clipped',
         'within 0..nrows'),
        ('return [(max(lo - (k - s + 1), 0), min(hi + (k - s + 1), nrows)) for s in range(1, k + 1)]',
         'the last step the band itself'),
        ('return [(max(lo - s, 0), min(hi + s, nrows)) for s in range(1, k + 1)]  # grows',
         'k - s rows more'),
    ],
}
