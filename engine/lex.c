/*
 * lex.c: .graph tokens with file/line/column (columns count bytes; a tab is one column).
 *
 * The input is (src, n) and need not be NUL-terminated, so every read is checked against n.
 * Character classes are ASCII-only by hand (no <ctype.h>): the result must not depend on the C
 * locale, and neither may numbers (see gx_lex_strtod). Errors become a sticky GX_TOK_ERROR.
 */
#include "lex.h"
#include "util.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const keyword_names[] = {
    NULL,   "graph", "dim",  "input", "param", "output", "def",     "return", "train",
    "init", "probe", "loop", "state", "yield", "over",   "carry",   "reverse", "import",
};

const char *gx_keyword_name(gx_keyword kw) {
    if ((unsigned)kw >= sizeof keyword_names / sizeof keyword_names[0]) return NULL;
    return keyword_names[kw];
}

int gx_keyword_reserved(gx_keyword kw) {
    (void)kw;
    return 0;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_alnum(int c) { return is_alpha(c) || is_digit(c); }

void gx_lex_init(gx_lexer *lx, const char *src, size_t n, const char *file, gx_arena *arena) {
    memset(lx, 0, sizeof *lx);
    lx->src = src;
    lx->n = n;
    lx->line = 1;
    lx->file = file;
    lx->arena = arena;
}

static gx_srcpos pos_at(const gx_lexer *lx, size_t off) {
    gx_srcpos pos = {lx->file, lx->line, (int32_t)(off - lx->line_start + 1)};
    return pos;
}

/* Record the one error this lexer will ever report and return it as a token. */
static gx_token lex_fail(gx_lexer *lx, gx_status st, gx_srcpos pos, const char *fmt, ...)
    GX_PRINTF(4, 5);
static gx_token lex_fail(gx_lexer *lx, gx_status st, gx_srcpos pos, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lx->msg, sizeof lx->msg, fmt, ap);
    va_end(ap);
    memset(&lx->err, 0, sizeof lx->err);
    lx->err.kind = GX_TOK_ERROR;
    lx->err.pos = pos;
    lx->err.err_status = st;
    lx->err.err_msg = lx->msg;
    lx->failed = 1;
    return lx->err;
}

/* Length (2..4) of the well-formed UTF-8 sequence at s, or 0: no overlongs, no surrogates. */
static int utf8_len(const unsigned char *s, size_t avail, unsigned *cp) {
    unsigned c = s[0], min;
    int len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, *cp = c & 0x1Fu, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, *cp = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, *cp = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)len > avail) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0u) != 0x80u) return 0;
        *cp = (*cp << 6) | (s[i] & 0x3Fu);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
    return len;
}

/* "'$'", "'\x00'" or "'×' (U+00D7)": whatever the byte at off is, the user can recognise it. */
static void describe_char(const gx_lexer *lx, size_t off, char *buf, size_t n) {
    const unsigned char *s = (const unsigned char *)lx->src + off;
    unsigned cp;
    int len;
    if (s[0] >= 0x21 && s[0] <= 0x7E)
        snprintf(buf, n, "'%c'", s[0]);
    else if (s[0] >= 0x80 && (len = utf8_len(s, lx->n - off, &cp)) > 0)
        snprintf(buf, n, "'%.*s' (U+%04X)", len, (const char *)s, cp);
    else
        snprintf(buf, n, "'\\x%02x'", s[0]);
}

int gx_lex_strtod(const char *s, size_t n, double *out) {
    /* strtod reads the locale's decimal point: swap ours for it so "0.5" means 0.5 even after
     * an embedder called setlocale(LC_ALL, "") in a locale that writes "0,5" */
    const char *dp = localeconv()->decimal_point;
    size_t dpl = (dp && dp[0]) ? strlen(dp) : 1;
    char small[128], *buf = small;
    size_t need = n * dpl + 1;
    if (need > sizeof small) {
        buf = gx_malloc(need);
        if (buf == NULL) return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' && dp && dp[0]) {
            memcpy(buf + k, dp, dpl);
            k += dpl;
        } else {
            buf[k++] = s[i];
        }
    }
    buf[k] = '\0';
    *out = strtod(buf, NULL);
    if (buf != small) gx_free(buf);
    return 1;
}

static gx_token lex_number(gx_lexer *lx, gx_token t) {
    const char *s = lx->src;
    size_t n = lx->n, start = lx->off, i = start;
    int is_int = 1;
    while (i < n && is_digit(s[i])) i++;
    if (i < n && s[i] == '.') {
        is_int = 0;
        i++;
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-')) j++;
        if (j < n && is_digit(s[j])) {
            is_int = 0;
            for (i = j; i < n && is_digit(s[i]);) i++;
        }
    }
    size_t good = i;
    int trailing_dot = 0;
    while (i < n && (is_alnum(s[i]) || s[i] == '.')) trailing_dot |= s[i++] == '.';
    t.kind = GX_TOK_NUMBER;
    t.text = s + start;
    t.len = i - start;
    lx->off = i;
    if (i != good) {
        /* `4H` is how DESIGN.md's sketch wrote 4*H: say so rather than just "malformed"
         * (but not for `1e`, a broken exponent, or `1_000`) */
        char c = s[good];
        if (is_int && !trailing_dot && is_alpha(c) && c != 'e' && c != 'E' && c != '_' &&
            t.len <= 40)
            return lex_fail(lx, GX_ERR_PARSE, t.pos,
                            "malformed number '%.*s' (write %.*s*%.*s to multiply)", (int)t.len,
                            t.text, (int)(good - start), t.text, (int)(i - good), s + good);
        return lex_fail(lx, GX_ERR_PARSE, t.pos, "malformed number '%.*s%s'",
                        (int)(t.len > 40 ? 37 : t.len), t.text, t.len > 40 ? "..." : "");
    }
    if (is_int) {
        long long v = 0;
        for (size_t k = start; k < good; k++) {
            int dgt = s[k] - '0';
            if (v > (LLONG_MAX - dgt) / 10)
                return lex_fail(lx, GX_ERR_PARSE, t.pos, "integer literal too large");
            v = v * 10 + dgt;
        }
        t.is_int = 1;
        t.ival = v;
        t.num = (double)v;
        return t;
    }
    if (!gx_lex_strtod(t.text, t.len, &t.num))
        return lex_fail(lx, GX_ERR_NOMEM, t.pos, "out of memory");
    if (isinf(t.num)) return lex_fail(lx, GX_ERR_PARSE, t.pos, "number literal too large");
    return t;
}

/* Escapes are \" \\ \n \t; a string may not span lines (so a missing quote is caught on its
 * own line) and holds only printable characters, tabs and well-formed UTF-8. */
static gx_token lex_string(gx_lexer *lx, gx_token t) {
    const unsigned char *s = (const unsigned char *)lx->src;
    size_t n = lx->n, i = lx->off + 1, len = 0;
    unsigned cp;
    for (;;) {
        if (i >= n || s[i] == '\n' || s[i] == '\r') {
            lx->off = i;
            return lex_fail(lx, GX_ERR_PARSE, t.pos, "unterminated string");
        }
        unsigned c = s[i];
        if (c == '"') break;
        if (c == '\\') {
            if (i + 1 >= n || s[i + 1] == '\n' || s[i + 1] == '\r') {
                lx->off = i + 1;
                return lex_fail(lx, GX_ERR_PARSE, t.pos, "unterminated string");
            }
            unsigned e = s[i + 1];
            if (e != '"' && e != '\\' && e != 'n' && e != 't') {
                gx_srcpos at = pos_at(lx, i);
                lx->off = i;
                if (e >= 0x21 && e <= 0x7E)
                    return lex_fail(lx, GX_ERR_PARSE, at, "invalid escape '\\%c' in string",
                                    (char)e);
                return lex_fail(lx, GX_ERR_PARSE, at, "invalid escape in string");
            }
            i += 2, len++;
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7F) {
            lx->off = i;
            return lex_fail(lx, GX_ERR_PARSE, pos_at(lx, i),
                            "unexpected character '\\x%02x' in string", c);
        }
        if (c >= 0x80) {
            int k = utf8_len(s + i, n - i, &cp);
            if (k == 0) {
                lx->off = i;
                return lex_fail(lx, GX_ERR_PARSE, pos_at(lx, i),
                                "unexpected character '\\x%02x' in string", c);
            }
            i += (size_t)k, len += (size_t)k;
            continue;
        }
        i++, len++;
    }
    char *out = gx_arena_alloc(lx->arena, len + 1);
    if (out == NULL) return lex_fail(lx, GX_ERR_NOMEM, t.pos, "out of memory");
    size_t k = 0;
    for (size_t j = lx->off + 1; j < i; j++) {
        char c = (char)s[j];
        if (c == '\\') {
            c = (char)s[++j];
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
        }
        out[k++] = c;
    }
    out[k] = '\0';
    t.kind = GX_TOK_STRING;
    t.text = lx->src + lx->off;
    t.len = i + 1 - lx->off;
    t.str = out;
    lx->off = i + 1;
    return t;
}

gx_token gx_lex_next(gx_lexer *lx) {
    if (lx->failed) return lx->err;
    const char *s = lx->src;
    size_t n = lx->n;
    /* whitespace and comments; '\r' is plain whitespace so CRLF files count lines right */
    while (lx->off < n) {
        char c = s[lx->off];
        if (c == '\n') {
            lx->off++;
            lx->line++;
            lx->line_start = lx->off;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            lx->off++;
        } else if (c == '#') {
            while (lx->off < n && s[lx->off] != '\n') lx->off++;
        } else {
            break;
        }
    }
    gx_token t;
    memset(&t, 0, sizeof t);
    t.pos = pos_at(lx, lx->off);
    if (lx->off >= n) {
        t.kind = GX_TOK_EOF;
        t.text = s + n;
        return t;
    }
    char c = s[lx->off];
    if (is_alpha(c)) {
        size_t start = lx->off;
        while (lx->off < n && is_alnum(s[lx->off])) lx->off++;
        t.kind = GX_TOK_NAME;
        t.text = s + start;
        t.len = lx->off - start;
        for (int k = GX_KW_GRAPH; k <= GX_KW_IMPORT; k++) {
            const char *kw = keyword_names[k];
            if (strlen(kw) == t.len && memcmp(kw, t.text, t.len) == 0) {
                t.kind = GX_TOK_KEYWORD;
                t.kw = (gx_keyword)k;
                break;
            }
        }
        return t;
    }
    if (is_digit(c) || (c == '.' && lx->off + 1 < n && is_digit(s[lx->off + 1])))
        return lex_number(lx, t);
    if (c == '"') return lex_string(lx, t);
    if (c != '\0' && strchr("()[]{},=:+-*/%@", c) != NULL) {
        t.kind = GX_TOK_PUNCT;
        t.text = s + lx->off;
        t.len = 1;
        t.ch = c;
        lx->off++;
        return t;
    }
    char what[48];
    describe_char(lx, lx->off, what, sizeof what);
    return lex_fail(lx, GX_ERR_PARSE, t.pos, "unexpected character %s", what);
}

void gx_token_describe(const gx_token *t, char *buf, size_t n) {
    /* long names and numbers are cut: the message is about where, not about all 5000 bytes */
    int len = t->len > 40 ? 37 : (int)t->len;
    const char *more = t->len > 40 ? "..." : "";
    switch (t->kind) {
    case GX_TOK_EOF: snprintf(buf, n, "end of file"); break;
    case GX_TOK_ERROR: snprintf(buf, n, "%s", t->err_msg ? t->err_msg : "an error"); break;
    case GX_TOK_NAME: snprintf(buf, n, "'%.*s%s'", len, t->text, more); break;
    case GX_TOK_KEYWORD: snprintf(buf, n, "keyword '%s'", gx_keyword_name(t->kw)); break;
    case GX_TOK_NUMBER: snprintf(buf, n, "%.*s%s", len, t->text, more); break;
    case GX_TOK_STRING: snprintf(buf, n, "a string"); break;
    case GX_TOK_PUNCT: snprintf(buf, n, "'%c'", t->ch); break;
    }
}
