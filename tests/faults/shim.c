/* Fault injection at the N-th pwrite of a process (LD_PRELOAD): count the writes, kill the
 * process before write N, make every write from N on fail with ENOSPC or EIO, or send SIGTERM
 * before write T (then the stop path runs, and a kill at a later N lands inside it).
 * Set from the environment at load (GSFAULT="mode at term", mode 0 count, 1 kill, 2 ENOSPC,
 * 3 EIO; GSFAULT_RANK: arm only the MPI rank of that number), or by gsfault_set() after a
 * fork. The count of a process that wrote is written to GSFAULT_COUNT_FILE.RANK at exit. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static long count, at = -1, term_at = -1;
static int mode;
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);

void gsfault_set(int m, long n, long t) { mode = m; at = n; term_at = t; count = 0; }
long gsfault_count(void) { return count; }

static void report(void) {
    const char *out = getenv("GSFAULT_COUNT_FILE");
    if (out && *out && count > 0) {  /* launchers (mpiexec) write nothing */
        char name[4096];
        const char *rank = getenv("PMI_RANK");
        snprintf(name, sizeof name, "%s.%s", out, rank ? rank : "0");
        FILE *f = fopen(name, "w");
        if (f) { fprintf(f, "%ld\n", count); fclose(f); }
    }
}

__attribute__((constructor)) static void setup(void) {
    const char *spec = getenv("GSFAULT"), *want = getenv("GSFAULT_RANK"), *rank = getenv("PMI_RANK");
    if (spec && (!want || strcmp(want, rank ? rank : "0") == 0))
        sscanf(spec, "%d %ld %ld", &mode, &at, &term_at);
    atexit(report);
}

/* Writes to memory (a memfd: where a writer parks a file it gave up on) are not the disk's. */
static int to_memory(int fd) {
    char link[64], target[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    return n > 7 && strncmp(target, "/memfd:", 7) == 0;
}

static int fail(int fd) {
    if (to_memory(fd)) return 0;
    count++;
    if (term_at > 0 && count == term_at) kill(getpid(), SIGTERM);
    if (at <= 0 || count < at) return 0;
    if (mode == 1) { kill(getpid(), SIGKILL); pause(); }
    if (mode == 2) { errno = ENOSPC; return 1; }
    if (mode == 3) { errno = EIO; return 1; }
    return 0;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    if (!real_pwrite64) real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    if (fail(fd)) return -1;
    return real_pwrite64(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) { return pwrite64(fd, buf, n, off); }
