/* fuzz_flags.c: the trainer's command line through dlc_parse_args. An input is the arguments
 * after the program name, separated by NUL bytes (at most 48 of them). Files the flags name
 * are looked up in the folder the fuzzer runs in (scripts/fuzz.sh runs it in a scratch one). */
#include "fuzz_support.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_ARGS = 48 };
static char *argv[MAX_ARGS + 2];
static int argc;

static void parse(const uint8_t *data, size_t size) {
    (void)data;
    (void)size;
    dlc_options o;
    dlc_parse_args(&dlc_fuzz_model, argc, argv, &o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    argv[0] = "fuzz";
    argc = 1;
    for (char *p = text; p <= text + size && argc <= MAX_ARGS; p += strlen(p) + 1) argv[argc++] = p;
    argv[argc] = NULL;
    dlc_fuzz_run(parse, data, size);
    free(text);
    return 0;
}
