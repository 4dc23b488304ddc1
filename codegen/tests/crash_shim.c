/* crash_shim.c: a crash at a chosen moment of a checkpoint save, for run.sh.
 *
 * Loaded with LD_PRELOAD, it kills the process with SIGKILL (nothing runs after it, as after
 * a power cut or an OOM kill) just before the Nth rename() or unlink() of a file whose name
 * ends in ".safetensors" (DLC_CRASH_AT=N; the temporary files' names end in .tmp-PID and do
 * not count). The trainer calls both straight from its own code, so they reach this library.
 *
 * DLC_TERM_AT_PROBE=1 instead sends the process SIGTERM just before it removes the first
 * temporary file it unlinks: the probe that checks an output can be written, which exists for
 * that moment only (a stop signal then must not leave it behind).
 *
 * build: cc -shared -fPIC -O2 crash_shim.c -o crash_shim.so -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void maybe_crash(const char *path) {
    static int calls;
    const char *at = getenv("DLC_CRASH_AT");
    size_t n = strlen(path);
    if (at && n >= 12 && strcmp(path + n - 12, ".safetensors") == 0 && ++calls == atoi(at)) raise(SIGKILL);
}

int rename(const char *from, const char *to) {
    int (*real)(const char *, const char *) = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    maybe_crash(to);
    return real(from, to);
}

static void maybe_terminate(const char *path) {
    static int done;
    if (!done && getenv("DLC_TERM_AT_PROBE") && strstr(path, ".tmp-")) {
        done = 1;
        raise(SIGTERM);
    }
}

int unlink(const char *path) {
    int (*real)(const char *) = (int (*)(const char *))dlsym(RTLD_NEXT, "unlink");
    maybe_crash(path);
    maybe_terminate(path);
    return real(path);
}
