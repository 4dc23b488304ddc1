/* dlc_json.c: a small, strict JSON parser (RFC 8259) for safetensors headers.
 *
 * Strict because a checkpoint header is untrusted input: no trailing commas, no comments, no
 * duplicate keys, no control characters or invalid UTF-8 in strings, bounded nesting, and
 * nothing but white space after the value. Integers are also kept exactly (shapes and offsets exceed 2^53). */
#include "dlc_runtime.h"

#include <stdlib.h>
#include <string.h>

#define DLC_JSON_MAX_DEPTH 64

typedef struct {
    const char *p, *end;
    const char *msg;   /* the first failure, and where it happened */
    const char *at;
} parser;

static int json_fail(parser *ps, const char *msg) {
    if (!ps->msg) {
        ps->msg = msg;
        ps->at = ps->p;
    }
    return 0;
}

/* Appends n raw bytes (dlc_str_add would go through printf for every character). */
static void put_bytes(dlc_str *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = dlc_xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int literal(parser *ps, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return json_fail(ps, "invalid literal");
    ps->p += n;
    return 1;
}

static int hex4(parser *ps, unsigned *out) {
    if (ps->end - ps->p < 4) return json_fail(ps, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *ps->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return json_fail(ps, "invalid \\u escape");
    }
    *out = v;
    return 1;
}

static void put_utf8(dlc_str *b, unsigned cp) {
    char t[5] = {0};
    if (cp < 0x80) t[0] = (char)cp;
    else if (cp < 0x800) { t[0] = (char)(0xC0 | (cp >> 6)); t[1] = (char)(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12)); t[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); t[2] = (char)(0x80 | (cp & 0x3F));
    } else {
        t[0] = (char)(0xF0 | (cp >> 18)); t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); t[3] = (char)(0x80 | (cp & 0x3F));
    }
    put_bytes(b, t, strlen(t));
}

/* The length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or 0 when the bytes there are not one. */
static size_t utf8_length(const unsigned char *p, const unsigned char *end) {
    size_t n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
    if (n == 0 || p[0] > 0xF4 || (size_t)(end - p) < n) return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0))) return 0;
    if (n == 4 && ((p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))) return 0;
    return n;
}

/* Parses a string literal at ps->p (which is at the opening quote). */
static int parse_string(parser *ps, char **out, size_t *len) {
    dlc_str b = {0};
    put_bytes(&b, "", 0);
    ps->p++;
    for (;;) {
        /* Copy the run of plain bytes up to the next quote, backslash or control character;
         * a NUL cannot get in (it is a control character). */
        const char *run = ps->p;
        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && (unsigned char)*ps->p >= 0x20) {
            if ((unsigned char)*ps->p < 0x80) { ps->p++; continue; }
            size_t n = utf8_length((const unsigned char *)ps->p, (const unsigned char *)ps->end);
            if (!n) { free(b.s); return json_fail(ps, "invalid UTF-8"); }
            ps->p += n;
        }
        put_bytes(&b, run, (size_t)(ps->p - run));
        if (ps->p >= ps->end) { free(b.s); return json_fail(ps, "unterminated string"); }
        unsigned char c = (unsigned char)*ps->p++;
        if (c == '"') break;
        if (c < 0x20) { ps->p--; free(b.s); return json_fail(ps, "control character in string"); }
        if (ps->p >= ps->end) { free(b.s); return json_fail(ps, "unterminated escape"); }
        char e = *ps->p++;
        unsigned cp;
        switch (e) {
        case '"': put_bytes(&b, "\"", 1); break;
        case '\\': put_bytes(&b, "\\", 1); break;
        case '/': put_bytes(&b, "/", 1); break;
        case 'b': put_bytes(&b, "\b", 1); break;
        case 'f': put_bytes(&b, "\f", 1); break;
        case 'n': put_bytes(&b, "\n", 1); break;
        case 'r': put_bytes(&b, "\r", 1); break;
        case 't': put_bytes(&b, "\t", 1); break;
        case 'u':
            if (!hex4(ps, &cp)) { free(b.s); return 0; }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') { free(b.s); return json_fail(ps, "lone surrogate"); }
                ps->p += 2;
                if (!hex4(ps, &lo)) { free(b.s); return 0; }
                if (lo < 0xDC00 || lo > 0xDFFF) { free(b.s); return json_fail(ps, "lone surrogate"); }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(b.s);
                return json_fail(ps, "lone surrogate");
            } else if (cp == 0) {
                free(b.s);
                return json_fail(ps, "\\u0000 in string");
            }
            put_utf8(&b, cp);
            break;
        default: free(b.s); return json_fail(ps, "invalid escape");
        }
    }
    *out = b.s;
    *len = b.len;
    return 1;
}

static int parse_number(parser *ps, dlc_json *v) {
    const char *start = ps->p;
    int integer = 1, negative = 0;
    if (ps->p < ps->end && *ps->p == '-') { ps->p++; negative = 1; }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return json_fail(ps, "invalid number");
    if (*ps->p == '0') {
        ps->p++;
        if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') return json_fail(ps, "leading zero in number");
    } else {
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    if (ps->p < ps->end && *ps->p == '.') {
        integer = 0;
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return json_fail(ps, "invalid number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        integer = 0;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return json_fail(ps, "invalid number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    size_t n = (size_t)(ps->p - start);
    char buf[64];
    char *tmp = n < sizeof buf ? buf : dlc_xmalloc(n + 1);
    memcpy(tmp, start, n);
    tmp[n] = 0;
    v->kind = DLC_JSON_NUMBER;
    v->number = strtod(tmp, NULL);
    if (integer && !negative) {
        /* Exact value, or not an exact integer if it overflows 64 bits. */
        uint64_t u = 0;
        int ok = 1;
        for (const char *c = tmp; *c; c++) {
            uint64_t d = (uint64_t)(*c - '0');
            if (u > (UINT64_MAX - d) / 10) { ok = 0; break; }
            u = u * 10 + d;
        }
        v->is_uint = ok;
        v->uint = u;
    }
    if (tmp != buf) free(tmp);
    return 1;
}

static int parse_value(parser *ps, dlc_json *v, int depth);

static int parse_array(parser *ps, dlc_json *v, int depth) {
    size_t cap = 0;
    v->kind = DLC_JSON_ARRAY;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') { ps->p++; return 1; }
    for (;;) {
        if (v->len == cap) {
            cap = cap ? cap * 2 : 4;
            v->items = dlc_xrealloc(v->items, dlc_mul_size(cap, sizeof *v->items));
        }
        memset(&v->items[v->len], 0, sizeof *v->items);
        v->len++;
        if (!parse_value(ps, &v->items[v->len - 1], depth + 1)) return 0;
        skip_ws(ps);
        if (ps->p >= ps->end) return json_fail(ps, "unterminated array");
        if (*ps->p == ',') { ps->p++; continue; }
        if (*ps->p == ']') { ps->p++; return 1; }
        return json_fail(ps, "expected ',' or ']'");
    }
}

static int parse_object(parser *ps, dlc_json *v, int depth) {
    size_t cap = 0;
    v->kind = DLC_JSON_OBJECT;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') { ps->p++; return 1; }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') return json_fail(ps, "expected a string key");
        char *key;
        size_t klen;
        if (!parse_string(ps, &key, &klen)) return 0;
        for (size_t i = 0; i < v->len; i++)
            if (strcmp(v->keys[i], key) == 0) { free(key); return json_fail(ps, "duplicate key"); }
        if (v->len == cap) {
            cap = cap ? cap * 2 : 4;
            v->items = dlc_xrealloc(v->items, dlc_mul_size(cap, sizeof *v->items));
            v->keys = dlc_xrealloc(v->keys, dlc_mul_size(cap, sizeof *v->keys));
        }
        memset(&v->items[v->len], 0, sizeof *v->items);
        v->keys[v->len] = key;
        v->len++;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') return json_fail(ps, "expected ':'");
        ps->p++;
        if (!parse_value(ps, &v->items[v->len - 1], depth + 1)) return 0;
        skip_ws(ps);
        if (ps->p >= ps->end) return json_fail(ps, "unterminated object");
        if (*ps->p == ',') { ps->p++; continue; }
        if (*ps->p == '}') { ps->p++; return 1; }
        return json_fail(ps, "expected ',' or '}'");
    }
}

static int parse_value(parser *ps, dlc_json *v, int depth) {
    if (depth > DLC_JSON_MAX_DEPTH) return json_fail(ps, "nesting too deep");
    skip_ws(ps);
    if (ps->p >= ps->end) return json_fail(ps, "unexpected end");
    switch (*ps->p) {
    case '{': return parse_object(ps, v, depth);
    case '[': return parse_array(ps, v, depth);
    case '"': v->kind = DLC_JSON_STRING; return parse_string(ps, &v->string, &v->len);
    case 't': v->kind = DLC_JSON_BOOL; v->boolean = 1; return literal(ps, "true");
    case 'f': v->kind = DLC_JSON_BOOL; return literal(ps, "false");
    case 'n': v->kind = DLC_JSON_NULL; return literal(ps, "null");
    default: return parse_number(ps, v);
    }
}

static void free_items(dlc_json *v) {
    if (v->kind == DLC_JSON_ARRAY || v->kind == DLC_JSON_OBJECT) {
        for (size_t i = 0; i < v->len; i++) {
            free_items(&v->items[i]);
            if (v->keys) free(v->keys[i]);
        }
        /* Items allocated beyond len (on failure mid-way) were zeroed: nothing to free. */
        free(v->items);
        free(v->keys);
    }
    free(v->string);
}

dlc_json *dlc_json_parse(const char *text, size_t len, char *err, size_t errcap) {
    parser ps = {text, text + len, NULL, NULL};
    dlc_json *v = dlc_xcalloc(1, sizeof *v);
    if (parse_value(&ps, v, 0)) {
        skip_ws(&ps);
        if (ps.p != ps.end) json_fail(&ps, "trailing characters after the value");
    }
    if (ps.msg) {
        snprintf(err, errcap, "%s at byte %ld of the header", ps.msg, (long)(ps.at - text));
        dlc_json_free(v);
        return NULL;
    }
    return v;
}

int dlc_json_number(const char *s, dlc_json *out) {
    memset(out, 0, sizeof *out);
    parser ps = {s, s + strlen(s), NULL, NULL};
    return ps.p < ps.end && (*ps.p == '-' || (*ps.p >= '0' && *ps.p <= '9')) && parse_number(&ps, out) &&
           ps.p == ps.end;
}

void dlc_json_free(dlc_json *v) {
    if (!v) return;
    free_items(v);
    free(v);
}

const dlc_json *dlc_json_get(const dlc_json *obj, const char *key) {
    if (!obj || obj->kind != DLC_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->len; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

void dlc_json_add_string(dlc_str *b, const char *s) {
    dlc_str_add(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') dlc_str_add(b, "\\%c", *c);
        else if (*c < 0x20) dlc_str_add(b, "\\u%04x", *c);
        else dlc_str_add(b, "%c", *c);
    }
    dlc_str_add(b, "\"");
}
