/* dlc_columns.h: the column language of the `columns` setting, --columns and --input FILE:COLUMNS
 * (docs/language.md, "Columns"). One implementation: the runtime's CSV loader and `dlc
 * gradcheck` (through Sources/CRuntimeRules) both resolve specs with it. */
#ifndef DLC_COLUMNS_H
#define DLC_COLUMNS_H
#include <stddef.h>
#include <stdint.h>

/* A header field's text (not NUL-terminated). */
typedef struct {
    const char *s;
    size_t len;
} dlc_column_name;

/* Resolves `spec`, a comma-separated list of items, into 0-based column indices of a file with
 * `width` columns whose header is header[0..n_header) (n_header 0: the file has none). Each item,
 * trimmed of spaces, tabs and double quotes, is the first of these that applies:
 *   NAME         a header name;
 *   I            a 0-based index (1 to 9 digits);
 *   A-B          the indices A to B, both included;
 *   NAME1-NAME2  the header names' columns and those between, e.g. p0-p63 (tried at each '-').
 * On success returns the number of columns and sets *cols to them (malloc'ed, in spec order,
 * repeats kept; the caller frees it). A bad spec returns -1 with the reason in why[0..why_size);
 * a failed allocation returns -2. */
int64_t dlc_columns_resolve(const char *spec, const dlc_column_name *header, int64_t n_header, int64_t width,
                            int64_t **cols, char *why, size_t why_size);
#endif
