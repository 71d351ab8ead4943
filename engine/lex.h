/*
 * lex.h: the tokens of a .graph file, produced one at a time with file/line/column.
 *
 * The lexer never reports errors itself: a bad byte, an unterminated string or a malformed
 * number becomes one GX_TOK_ERROR token (sticky: every later call returns it again). The parser
 * reports it only if it gets that far, so an earlier syntax error is still the one the user
 * sees even when the parser has peeked past it. Internal to the engine; not installed.
 */
#ifndef GX_LEX_H
#define GX_LEX_H

#include "arena.h"
#include "diag.h"

#include <stddef.h>

typedef enum gx_tok_kind {
    GX_TOK_EOF,
    GX_TOK_ERROR,    /* err_msg, err_status                                              */
    GX_TOK_NAME,     /* text/len                                                         */
    GX_TOK_KEYWORD,  /* kw; text/len                                                     */
    GX_TOK_NUMBER,   /* num, is_int, ival; text/len as written                           */
    GX_TOK_STRING,   /* str: contents with escapes resolved, in the arena                */
    GX_TOK_PUNCT     /* ch: one of ( ) [ ] { } , = : + - * / % @                          */
} gx_tok_kind;

typedef enum gx_keyword {
    GX_KW_NONE,
    GX_KW_GRAPH, GX_KW_DIM, GX_KW_INPUT, GX_KW_PARAM, GX_KW_OUTPUT, GX_KW_DEF, GX_KW_RETURN,
    GX_KW_TRAIN, GX_KW_INIT, GX_KW_PROBE,
    /* recurrence and modules: `h = loop t over x carry (...) { ... yield h }`, `state`, `import` */
    GX_KW_LOOP, GX_KW_STATE, GX_KW_YIELD, GX_KW_OVER, GX_KW_CARRY, GX_KW_REVERSE, GX_KW_IMPORT
    /* `axis` and `mask` (loop clauses) are not keywords: they are common attribute names, as in
     * sum(x, axis = 1), and the parser recognises them only right after a loop's `over` list */
} gx_keyword;

typedef struct gx_token {
    gx_tok_kind kind;
    gx_srcpos   pos;          /* first byte of the token; col counts bytes           */
    const char *text;         /* the token as written (borrowed from the source)     */
    size_t      len;
    char        ch;           /* PUNCT                                               */
    gx_keyword  kw;           /* KEYWORD                                             */
    double      num;          /* NUMBER                                              */
    int         is_int;       /* NUMBER without '.' or exponent: ival is exact       */
    long long   ival;
    const char *str;          /* STRING, NUL-terminated, in the arena                */
    gx_status   err_status;   /* ERROR: GX_ERR_PARSE or GX_ERR_NOMEM                 */
    const char *err_msg;      /* ERROR: message without position (in the lexer)      */
} gx_token;

typedef struct gx_lexer {
    const char *src;          /* n bytes, not necessarily NUL-terminated             */
    size_t      n;
    size_t      off;          /* next byte to read                                   */
    size_t      line_start;   /* offset of the first byte of the current line        */
    int32_t     line;
    const char *file;         /* put into every position; owned by the caller        */
    gx_arena   *arena;        /* where string contents go                            */
    int         failed;       /* an ERROR token was produced; `err` is repeated      */
    gx_token    err;
    char        msg[192];
} gx_lexer;

void        gx_lex_init(gx_lexer *lx, const char *src, size_t n, const char *file,
                        gx_arena *arena);
/* The next token. Never fails as a call: problems come back as a GX_TOK_ERROR token. */
gx_token    gx_lex_next(gx_lexer *lx);
/* How a token reads in "found X": 'x', keyword 'input', 12, a string, ')', end of file. */
void        gx_token_describe(const gx_token *t, char *buf, size_t n);
/* "graph", "loop", ...; NULL for GX_KW_NONE */
const char *gx_keyword_name(gx_keyword kw);
/* A keyword reserved for a later version (always an error where it is written). None is today:
 * the former reserved words loop, state, yield, over, carry, reverse and import are all in use;
 * a future one is added here and to the enum, and the parser reports it as not supported. */
int         gx_keyword_reserved(gx_keyword kw);
/* Parse the decimal number s[0..n) (the lexer's syntax) whatever the C locale; 0 on out of
 * memory. Shared with the AST printer, which must read back what it prints. */
int         gx_lex_strtod(const char *s, size_t n, double *out);

#endif
