/*
 * parse.c: recursive descent from .graph text to the AST of ast.h, and the AST printer.
 *
 * One token of lookahead beyond the current one (to tell `x = ...` and `f(lr = 1)` apart).
 * The first error stops the parse and reads `file:line:col: error: expected X, found Y`.
 * Statements live in one of three places: the top level, a def body (assignments and return)
 * and a loop body (assignments, then an optional final yield). A loop is an expression, but only
 * as the whole right-hand side of an assignment or output, and loops do not nest.
 * Nesting, tree height and tree size are bounded so no input can overflow the stack here or in
 * the recursive passes that walk the AST later. Names are not resolved and dtypes are not
 * checked: that is lowering's job.
 */
#include "ast.h"
#include "util.h"
#include "lex.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT_BYTES ((size_t)64 << 20)
#define MAX_AST_BYTES   ((size_t)256 << 20)
#define MAX_NEST        256   /* parentheses, brackets, calls, unary minus: parser recursion */
#define MAX_HEIGHT      1024  /* AST height: later passes recurse on it too                  */

typedef struct parser {
    gx_lexer       lx;
    gx_token       tok;      /* the current token                                   */
    gx_token       la;       /* the one after it, valid when has_la                 */
    int            has_la;
    gx_ast_module *m;
    gx_diag       *d;
    gx_status      status;   /* the first error, kept also when d is NULL           */
    int            nest;
    int            in_loop;  /* inside a loop's header or body: loops do not nest     */
    size_t         bytes;    /* AST bytes allocated so far                          */
    void          *grown;    /* the array grow() just made room in                 */
} parser;

// ---- errors ----

static gx_status fail_at(parser *p, gx_status st, gx_srcpos pos, const char *fmt, ...)
    GX_PRINTF(4, 5);
static gx_status fail_at(parser *p, gx_status st, gx_srcpos pos, const char *fmt, ...) {
    if (p->status != GX_OK) return p->status;
    p->status = st;
    va_list ap;
    va_start(ap, fmt);
    gx_diag_vat(p->d, st, pos, fmt, ap);
    va_end(ap);
    return st;
}

/* An error about token t: when t is the lexer's error token, its message is the real cause. */
static gx_status fail_lex(parser *p, const gx_token *t) {
    return fail_at(p, t->err_status, t->pos, "%s", t->err_msg);
}

/* "expected <what>, found <t>", pointing at t. */
static gx_status fail_expected(parser *p, const gx_token *t, const char *fmt, ...)
    GX_PRINTF(3, 4);
static gx_status fail_expected(parser *p, const gx_token *t, const char *fmt, ...) {
    if (t->kind == GX_TOK_ERROR) return fail_lex(p, t);
    char what[256], found[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    gx_token_describe(t, found, sizeof found);
    return fail_at(p, GX_ERR_PARSE, t->pos, "expected %s, found %s", what, found);
}

static gx_status fail_nomem(parser *p) {
    gx_srcpos pos = {p->m->file, 0, 0};
    return fail_at(p, GX_ERR_NOMEM, pos, "out of memory while parsing");
}

// ---- tokens ----

static void advance(parser *p) {
    if (p->has_la) {
        p->tok = p->la;
        p->has_la = 0;
    } else {
        p->tok = gx_lex_next(&p->lx);
    }
}

static const gx_token *peek(parser *p) {
    if (!p->has_la) {
        p->la = gx_lex_next(&p->lx);
        p->has_la = 1;
    }
    return &p->la;
}

static int is_punct(const gx_token *t, char ch) {
    return t->kind == GX_TOK_PUNCT && t->ch == ch;
}

static int at(const parser *p, char ch) {
    return is_punct(&p->tok, ch);
}

static int at_kw(const parser *p, gx_keyword kw) {
    return p->tok.kind == GX_TOK_KEYWORD && p->tok.kw == kw;
}

// ---- allocation ----

static void *palloc(parser *p, size_t bytes) {
    if (bytes > MAX_AST_BYTES - p->bytes) {
        fail_at(p, GX_ERR_PARSE, p->tok.pos,
                "file too large: its syntax tree needs more than %zu MiB", MAX_AST_BYTES >> 20);
        return NULL;
    }
    void *ptr = gx_arena_alloc(&p->m->arena, bytes);
    if (ptr == NULL) {
        fail_nomem(p);
        return NULL;
    }
    p->bytes += bytes;
    return ptr;
}

/* Make room for element n of an arena array (doubling; the old copy is simply left behind,
 * which at most doubles the bytes an array costs). The new array goes to p->grown, so that
 * GROW can assign it with its own type instead of writing through a (void **). */
static int grow(parser *p, void *arr, int n, int *cap, size_t elem) {
    p->grown = arr;
    if (n < *cap) return 1;
    int new_cap = *cap ? *cap * 2 : 4;
    void *na = palloc(p, (size_t)new_cap * elem);
    if (na == NULL) return 0;
    if (n > 0) memcpy(na, arr, (size_t)n * elem);
    p->grown = na;
    *cap = new_cap;
    return 1;
}

/* 1 when arr (an lvalue) has room for element n, 0 on error (already reported). */
#define GROW(p, arr, n, cap) \
    (grow((p), (arr), (n), (cap), sizeof *(arr)) && ((arr) = (p)->grown, 1))

static const char *copy_text(parser *p, const char *s, size_t n) {
    char *c = palloc(p, n + 1);
    if (c == NULL) return NULL;
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

/* A name token: copy it and move on; anything else is "expected a name". */
static gx_status expect_name(parser *p, const char **name, gx_srcpos *pos) {
    if (p->tok.kind != GX_TOK_NAME) return fail_expected(p, &p->tok, "a name");
    *pos = p->tok.pos;
    *name = copy_text(p, p->tok.text, p->tok.len);
    if (*name == NULL) return p->status;
    advance(p);
    return GX_OK;
}

// ---- expressions ----

static gx_ast_expr *new_expr(parser *p, gx_ast_expr_kind kind, gx_srcpos pos) {
    gx_ast_expr *e = palloc(p, sizeof *e);
    if (e == NULL) return NULL;
    e->kind = kind;
    e->pos = pos;
    return e;
}

/* Height of a new node over children of height h: bounded so later recursion is safe. */
static int check_height(parser *p, int h, gx_srcpos pos) {
    if (h <= MAX_HEIGHT) return 1;
    fail_at(p, GX_ERR_PARSE, pos,
            "expression too long (more than %d levels deep); split it into several statements",
            MAX_HEIGHT);
    return 0;
}

/* `dims` selects what an expression may contain: DIMS_NONE anything; DIMS_SHAPE a dimension
 * (integers, dim names, + - * / %, unary minus, parentheses); DIMS_AXIS the same, for a loop's
 * `axis N`, with messages that say so. */
enum { DIMS_NONE = 0, DIMS_SHAPE = 1, DIMS_AXIS = 2 };

static const char *dims_expected(int dims) {
    return dims == DIMS_AXIS ? "an axis such as 0 or 1" : "a dimension such as 64 or H";
}

static const char *dims_where(int dims) {
    return dims == DIMS_AXIS ? "a loop axis" : "a dimension expression";
}

static const char *const loop_whole_rhs =
    "a loop must be the whole right-hand side of an assignment";

static gx_ast_expr *parse_expr(parser *p, int dims, int *height);

/* Arguments up to `close` (the opening bracket is already consumed). Keyword arguments
 * `name = value` only when allow_kw, and never followed by a positional one. */
static gx_status parse_args(parser *p, char open, gx_srcpos open_pos, int allow_kw,
                            gx_ast_expr *e, int *height) {
    char close = open == '(' ? ')' : ']';
    int cap = 0, h = 0;
    const char *last_kw = NULL;
    e->n_args = 0;
    e->args = NULL;
    if (at(p, close)) {
        advance(p);
        *height = 1;
        return GX_OK;
    }
    for (;;) {
        gx_ast_arg a = {NULL, NULL, p->tok.pos};
        if (allow_kw && p->tok.kind == GX_TOK_NAME && is_punct(peek(p), '=')) {
            a.name = copy_text(p, p->tok.text, p->tok.len);
            if (a.name == NULL) return p->status;
            advance(p);
            advance(p);
            last_kw = a.name;
        }
        int ha;
        a.value = parse_expr(p, 0, &ha);
        if (a.value == NULL) return p->status;
        if (a.name == NULL && last_kw != NULL)
            return fail_at(p, GX_ERR_PARSE, a.pos,
                           "positional argument after keyword argument '%.64s'", last_kw);
        if (!GROW(p, e->args, e->n_args, &cap)) return p->status;
        e->args[e->n_args++] = a;
        if (ha > h) h = ha;
        if (at(p, ',')) {
            advance(p);
            continue;
        }
        if (at(p, close)) {
            advance(p);
            break;
        }
        return fail_expected(p, &p->tok, "'%c' to close '%c' at %d:%d", close, open,
                             (int)open_pos.line, (int)open_pos.col);
    }
    *height = h + 1;
    return check_height(p, *height, e->pos) ? GX_OK : GX_ERR_PARSE;
}

/* NAME '(' args ')': e is the NAME node, turned into a CALL in place. */
static gx_status parse_call(parser *p, gx_ast_expr *e, int *height) {
    gx_srcpos open = p->tok.pos;
    advance(p);
    e->kind = GX_EXPR_CALL;
    return parse_args(p, '(', open, 1, e, height);
}

static gx_ast_expr *parse_primary(parser *p, int dims, int *height) {
    gx_ast_expr *e;
    *height = 1;
    switch (p->tok.kind) {
    case GX_TOK_NUMBER:
        if (dims && !p->tok.is_int) {
            fail_expected(p, &p->tok, "%s", dims_expected(dims));
            return NULL;
        }
        if ((e = new_expr(p, GX_EXPR_NUMBER, p->tok.pos)) == NULL) return NULL;
        e->num = p->tok.num;
        e->is_int = p->tok.is_int;
        e->ival = p->tok.ival;
        advance(p);
        return e;
    case GX_TOK_STRING:
        if (dims) break;
        if ((e = new_expr(p, GX_EXPR_STRING, p->tok.pos)) == NULL) return NULL;
        e->str = p->tok.str;
        advance(p);
        return e;
    case GX_TOK_NAME:
        if ((e = new_expr(p, GX_EXPR_NAME, p->tok.pos)) == NULL) return NULL;
        if ((e->name = copy_text(p, p->tok.text, p->tok.len)) == NULL) return NULL;
        advance(p);
        if (at(p, '(')) {
            if (dims) {
                fail_at(p, GX_ERR_PARSE, p->tok.pos, "calls are not allowed in %s",
                        dims_where(dims));
                return NULL;
            }
            if (parse_call(p, e, height) != GX_OK) return NULL;
        }
        return e;
    case GX_TOK_PUNCT:
        if (p->tok.ch == '(') {
            gx_srcpos open = p->tok.pos;
            advance(p);
            if ((e = parse_expr(p, dims, height)) == NULL) return NULL;
            if (!at(p, ')')) {
                fail_expected(p, &p->tok, "')' to close '(' at %d:%d", (int)open.line,
                              (int)open.col);
                return NULL;
            }
            advance(p);
            return e;
        }
        if (p->tok.ch == '[' && !dims) {
            gx_srcpos open = p->tok.pos;
            if ((e = new_expr(p, GX_EXPR_LIST, open)) == NULL) return NULL;
            advance(p);
            if (parse_args(p, '[', open, 0, e, height) != GX_OK) return NULL;
            return e;
        }
        break;
    case GX_TOK_KEYWORD:
        if (gx_keyword_reserved(p->tok.kw)) {
            fail_at(p, GX_ERR_PARSE, p->tok.pos, "'%s' is not supported by this version of gexec",
                    gx_keyword_name(p->tok.kw));
            return NULL;
        }
        if (p->tok.kw == GX_KW_LOOP && !dims) {
            /* parse_rhs takes a loop that is a whole right-hand side; this one is not */
            fail_at(p, GX_ERR_PARSE, p->tok.pos, "%s",
                    p->in_loop ? "loops cannot be nested" : loop_whole_rhs);
            return NULL;
        }
        break;
    case GX_TOK_EOF:
    case GX_TOK_ERROR:
        break;
    }
    fail_expected(p, &p->tok, "%s", dims ? dims_expected(dims) : "an expression");
    return NULL;
}

static gx_ast_expr *parse_postfix(parser *p, int dims, int *height) {
    gx_ast_expr *e = parse_primary(p, dims, height);
    while (e != NULL) {
        if (at(p, '(')) {
            /* a call was already taken by parse_primary right after its name */
            if (dims)
                fail_at(p, GX_ERR_PARSE, p->tok.pos, "calls are not allowed in %s",
                        dims_where(dims));
            else
                fail_at(p, GX_ERR_PARSE, p->tok.pos,
                        "unexpected '(': only a function name can be called");
            return NULL;
        }
        if (!at(p, '[')) break;
        if (dims) {
            fail_at(p, GX_ERR_PARSE, p->tok.pos, "indexing is not allowed in %s",
                    dims_where(dims));
            return NULL;
        }
        gx_ast_expr *ix = new_expr(p, GX_EXPR_INDEX, e->pos);
        if (ix == NULL) return NULL;
        ix->lhs = e;
        gx_srcpos open = p->tok.pos;
        advance(p);
        if (at(p, ']')) {   /* x[] would index with nothing */
            fail_expected(p, &p->tok, "an expression");
            return NULL;
        }
        int h;
        if (parse_args(p, '[', open, 0, ix, &h) != GX_OK) return NULL;
        if (*height + 1 > h) h = *height + 1;
        if (!check_height(p, h, ix->pos)) return NULL;
        *height = h;
        e = ix;
    }
    return e;
}

static gx_ast_expr *parse_unary(parser *p, int dims, int *height) {
    if (p->nest >= MAX_NEST) {
        fail_at(p, GX_ERR_PARSE, p->tok.pos, "expression nested too deeply (more than %d levels)",
                MAX_NEST);
        return NULL;
    }
    p->nest++;
    gx_ast_expr *e;
    if (at(p, '-')) {
        gx_srcpos pos = p->tok.pos;
        advance(p);
        gx_ast_expr *operand = parse_unary(p, dims, height);
        if (operand == NULL) {
            e = NULL;
        } else if (operand->kind == GX_EXPR_NUMBER) {
            /* fold `-2` into a literal so attributes like constant(value = -2) need no
             * arithmetic in lowering; the lexer caps ival at LLONG_MAX, so -ival is safe */
            e = operand;
            e->pos = pos;
            e->num = -e->num;
            e->ival = -e->ival;
        } else if ((e = new_expr(p, GX_EXPR_UNARY, pos)) != NULL) {
            e->op = '-';
            e->lhs = operand;
            *height += 1;
            if (!check_height(p, *height, pos)) e = NULL;
        }
    } else {
        e = parse_postfix(p, dims, height);
    }
    p->nest--;
    return e;
}

static gx_ast_expr *binary(parser *p, char op, gx_srcpos pos, gx_ast_expr *lhs, int hl,
                           gx_ast_expr *rhs, int hr, int *height) {
    gx_ast_expr *e = new_expr(p, GX_EXPR_BINARY, pos);
    if (e == NULL) return NULL;
    e->op = op;
    e->lhs = lhs;
    e->rhs = rhs;
    *height = (hl > hr ? hl : hr) + 1;
    return check_height(p, *height, pos) ? e : NULL;
}

/* * / % @, left-associative; a loop, not recursion, so long chains cost no stack */
static gx_ast_expr *parse_term(parser *p, int dims, int *height) {
    int hl, hr;
    gx_ast_expr *lhs = parse_unary(p, dims, &hl);
    while (lhs != NULL && p->tok.kind == GX_TOK_PUNCT && strchr("*/%@", p->tok.ch) != NULL) {
        if (dims && p->tok.ch == '@') {
            fail_at(p, GX_ERR_PARSE, p->tok.pos, "'@' is not allowed in %s", dims_where(dims));
            return NULL;
        }
        char op = p->tok.ch;
        gx_srcpos pos = p->tok.pos;
        advance(p);
        gx_ast_expr *rhs = parse_unary(p, dims, &hr);
        if (rhs == NULL) return NULL;
        lhs = binary(p, op, pos, lhs, hl, rhs, hr, &hl);
    }
    *height = hl;
    return lhs;
}

/* + -: the loosest level. dims != DIMS_NONE parses a dimension or axis expression: integers,
 * dim names, + - * / %, unary minus and parentheses only. */
static gx_ast_expr *parse_expr(parser *p, int dims, int *height) {
    int hl, hr;
    gx_ast_expr *lhs = parse_term(p, dims, &hl);
    while (lhs != NULL && (at(p, '+') || at(p, '-'))) {
        char op = p->tok.ch;
        gx_srcpos pos = p->tok.pos;
        advance(p);
        gx_ast_expr *rhs = parse_term(p, dims, &hr);
        if (rhs == NULL) return NULL;
        lhs = binary(p, op, pos, lhs, hl, rhs, hr, &hl);
    }
    *height = hl;
    return lhs;
}

static gx_ast_expr *expr(parser *p, int dims) {
    int h;
    return parse_expr(p, dims, &h);
}

// ---- statements ----

/* where a statement is: what it may be follows from this */
typedef enum stmt_ctx { IN_TOP, IN_DEF, IN_LOOP } stmt_ctx;

static gx_status parse_stmt(parser *p, stmt_ctx ctx, gx_ast_stmt **out);

static gx_ast_stmt *new_stmt(parser *p, gx_ast_stmt_kind kind) {
    gx_ast_stmt *s = palloc(p, sizeof *s);
    if (s == NULL) return NULL;
    s->kind = kind;
    s->pos = p->tok.pos;
    return s;
}

/* Append to the parallel arrays names/names_pos/values of s. */
static gx_status push_name(parser *p, gx_ast_stmt *s, int *cap, const char *name, gx_srcpos pos,
                           gx_ast_expr *value) {
    if (s->n_names == *cap) {
        int c1 = *cap, c2 = *cap, c3 = *cap;
        if (!GROW(p, s->names, s->n_names, &c1) ||
            !GROW(p, s->names_pos, s->n_names, &c2) ||
            !GROW(p, s->values, s->n_names, &c3))
            return p->status;
        *cap = c1;
    }
    s->names[s->n_names] = name;
    s->names_pos[s->n_names] = pos;
    s->values[s->n_names] = value;
    s->n_names++;
    return GX_OK;
}

static gx_status parse_type(parser *p, gx_ast_type *t) {
    if (p->tok.kind != GX_TOK_NAME) return fail_expected(p, &p->tok, "a dtype such as f32");
    t->dtype_pos = p->tok.pos;
    if ((t->dtype = copy_text(p, p->tok.text, p->tok.len)) == NULL) return p->status;
    advance(p);
    if (!at(p, '[')) {
        if (p->tok.kind == GX_TOK_ERROR) return fail_lex(p, &p->tok);
        char found[128];
        gx_token_describe(&p->tok, found, sizeof found);
        return fail_at(p, GX_ERR_PARSE, p->tok.pos,
                       "expected '[' after dtype '%.64s', found %s (a scalar is written %.64s[])",
                       t->dtype, found, t->dtype);
    }
    gx_srcpos open = p->tok.pos;
    advance(p);
    if (at(p, ']')) {
        advance(p);
        return GX_OK;
    }
    int cap = 0;
    for (;;) {
        gx_ast_expr *dim = expr(p, DIMS_SHAPE);
        if (dim == NULL) return p->status;
        if (!GROW(p, t->dims, t->n_dims, &cap)) return p->status;
        t->dims[t->n_dims++] = dim;
        if (at(p, ',')) {
            advance(p);
            continue;
        }
        if (at(p, ']')) {
            advance(p);
            return GX_OK;
        }
        return fail_expected(p, &p->tok, "']' to close '[' at %d:%d", (int)open.line,
                             (int)open.col);
    }
}

/* graph NAME | dim NAME [= dimexpr] | input NAME : type (also the start of param and state) */
static gx_status parse_simple(parser *p, gx_ast_stmt *s) {
    advance(p);
    gx_status st = expect_name(p, &s->name, &s->name_pos);
    if (st != GX_OK) return st;
    if (s->kind == GX_STMT_DIM && at(p, '=')) {
        advance(p);
        return (s->value = expr(p, DIMS_SHAPE)) != NULL ? GX_OK : p->status;
    }
    if (s->kind == GX_STMT_INPUT || s->kind == GX_STMT_PARAM || s->kind == GX_STMT_STATE) {
        if (!at(p, ':'))
            return fail_expected(p, &p->tok, "':' after %s name '%.64s'",
                                 s->kind == GX_STMT_INPUT   ? "input"
                                 : s->kind == GX_STMT_PARAM ? "param"
                                                            : "state",
                                 s->name);
        advance(p);
        return parse_type(p, &s->type);
    }
    return GX_OK;
}

/* What follows `init`: NAME or NAME(args), into s->init. */
static gx_status parse_init(parser *p, gx_ast_stmt *s) {
    if (p->tok.kind != GX_TOK_NAME)
        return fail_expected(p, &p->tok, "an initializer such as xavier or normal(0, 0.1)");
    gx_ast_expr *e = new_expr(p, GX_EXPR_NAME, p->tok.pos);
    if (e == NULL || (e->name = copy_text(p, p->tok.text, p->tok.len)) == NULL) return p->status;
    advance(p);
    int h;
    if (at(p, '(') && parse_call(p, e, &h) != GX_OK) return p->status;
    s->init = e;
    return GX_OK;
}

/* param NAME : type [init NAME | init NAME(args)] */
static gx_status parse_param(parser *p, gx_ast_stmt *s) {
    gx_status st = parse_simple(p, s);
    if (st != GX_OK || !at_kw(p, GX_KW_INIT)) return st;
    advance(p);
    return parse_init(p, s);
}

/* state NAME : type = 0 | = input | = param init NAME[(args)] */
static gx_status parse_state(parser *p, gx_ast_stmt *s) {
    gx_status st = parse_simple(p, s);
    if (st != GX_OK) return st;
    if (!at(p, '='))
        return fail_expected(p, &p->tok, "'=' after the type of state '%.64s'", s->name);
    advance(p);
    if (p->tok.kind == GX_TOK_NUMBER && p->tok.is_int && p->tok.ival == 0) {
        s->state_kind = GX_STATE_ZEROS;
        advance(p);
        return GX_OK;
    }
    if (at_kw(p, GX_KW_INPUT)) {
        s->state_kind = GX_STATE_INPUT;
        advance(p);
        return GX_OK;
    }
    if (!at_kw(p, GX_KW_PARAM))
        return fail_expected(p, &p->tok, "0, input or param after '=' in state '%.64s'", s->name);
    s->state_kind = GX_STATE_PARAM;
    advance(p);
    if (!at_kw(p, GX_KW_INIT))
        return fail_expected(p, &p->tok, "'init' after 'param' in state '%.64s'", s->name);
    advance(p);
    return parse_init(p, s);
}

/* import "path.graph" */
static gx_status parse_import(parser *p, gx_ast_stmt *s) {
    advance(p);
    if (p->tok.kind != GX_TOK_STRING) return fail_expected(p, &p->tok, "a string after 'import'");
    s->path = p->tok.str;
    advance(p);
    return GX_OK;
}

/* graph NAME [(key = expr (, key = expr)*)] */
static gx_status parse_graph(parser *p, gx_ast_stmt *s) {
    gx_status st = parse_simple(p, s);
    if (st != GX_OK || !at(p, '(')) return st;
    gx_srcpos open = p->tok.pos;
    int cap = 0;
    advance(p);
    for (;;) {
        if (p->tok.kind != GX_TOK_NAME) return fail_expected(p, &p->tok, "an attribute name");
        gx_srcpos pos = p->tok.pos;
        const char *key = copy_text(p, p->tok.text, p->tok.len);
        if (key == NULL) return p->status;
        advance(p);
        if (!at(p, '='))
            return fail_expected(p, &p->tok, "'=' after graph attribute '%.64s'", key);
        advance(p);
        gx_ast_expr *value = expr(p, DIMS_NONE);
        if (value == NULL) return p->status;
        if ((st = push_name(p, s, &cap, key, pos, value)) != GX_OK) return st;
        if (at(p, ',')) {
            advance(p);
            continue;
        }
        if (at(p, ')')) {
            advance(p);
            break;
        }
        return fail_expected(p, &p->tok, "')' to close '(' at %d:%d", (int)open.line,
                             (int)open.col);
    }
    s->n_values = s->n_names;
    return GX_OK;
}

static int at_word(const parser *p, const char *word) {
    size_t n = strlen(word);
    return p->tok.kind == GX_TOK_NAME && p->tok.len == n && memcmp(p->tok.text, word, n) == 0;
}

static gx_status clause_twice(parser *p, const char *clause) {
    return fail_at(p, GX_ERR_PARSE, p->tok.pos, "'%s' given twice", clause);
}

/* carry ( NAME = expr (, NAME = expr)* ), at `carry` */
static gx_status parse_carry(parser *p, gx_ast_loop *l) {
    advance(p);
    if (!at(p, '(')) return fail_expected(p, &p->tok, "'(' after 'carry'");
    gx_srcpos open = p->tok.pos;
    int cap = 0;
    advance(p);
    for (;;) {
        const char *name;
        gx_srcpos pos;
        gx_status st = expect_name(p, &name, &pos);
        if (st != GX_OK) return st;
        if (!at(p, '=')) return fail_expected(p, &p->tok, "'=' after carry '%.64s'", name);
        advance(p);
        gx_ast_expr *init = expr(p, DIMS_NONE);
        if (init == NULL) return p->status;
        if (l->n_carry == cap) {
            int c1 = cap, c2 = cap, c3 = cap;
            if (!GROW(p, l->carry_names, l->n_carry, &c1) ||
                !GROW(p, l->carry_pos, l->n_carry, &c2) ||
                !GROW(p, l->carry_inits, l->n_carry, &c3))
                return p->status;
            cap = c1;
        }
        l->carry_names[l->n_carry] = name;
        l->carry_pos[l->n_carry] = pos;
        l->carry_inits[l->n_carry] = init;
        l->n_carry++;
        if (at(p, ',')) {
            advance(p);
            continue;
        }
        if (at(p, ')')) {
            advance(p);
            return GX_OK;
        }
        return fail_expected(p, &p->tok, "')' to close '(' at %d:%d", (int)open.line,
                             (int)open.col);
    }
}

/* The body after `{`: assignments, then an optional `yield e (, e)*` right before `}`. */
static gx_status parse_loop_body(parser *p, gx_ast_loop *l, gx_srcpos open) {
    int body_cap = 0, yield_cap = 0;
    gx_status st;
    while (!at(p, '}')) {
        if (p->tok.kind == GX_TOK_EOF)
            return fail_expected(p, &p->tok, "'}' to close '{' at %d:%d", (int)open.line,
                                 (int)open.col);
        if (at_kw(p, GX_KW_YIELD)) {
            l->yield_pos = p->tok.pos;
            advance(p);
            for (;;) {
                gx_ast_expr *e = expr(p, DIMS_NONE);
                if (e == NULL) return p->status;
                if (!GROW(p, l->yields, l->n_yield, &yield_cap)) return p->status;
                l->yields[l->n_yield++] = e;
                if (!at(p, ',')) break;
                advance(p);
            }
            if (at(p, '}')) break;
            if (p->tok.kind == GX_TOK_EOF)
                return fail_expected(p, &p->tok, "'}' to close '{' at %d:%d", (int)open.line,
                                     (int)open.col);
            if (p->tok.kind == GX_TOK_ERROR) return fail_lex(p, &p->tok);
            return fail_at(p, GX_ERR_PARSE, p->tok.pos,
                           "nothing may follow 'yield' in a loop body");
        }
        gx_ast_stmt *b;
        if ((st = parse_stmt(p, IN_LOOP, &b)) != GX_OK) return st;
        if (!GROW(p, l->body, l->n_body, &body_cap)) return p->status;
        l->body[l->n_body++] = b;
    }
    advance(p);
    return GX_OK;
}

/* loop NAME over expr (, expr)* [axis N] [reverse] [mask expr] [carry (NAME = expr, ...)]
 * { body }: the clauses in any order, each at most once; `axis` and `mask` are plain names
 * everywhere else, so they are clause words only here, after a complete `over` expression. */
static gx_status parse_loop_rest(parser *p, gx_ast_expr *e) {
    gx_ast_loop *l = e->loop;
    advance(p);
    if (p->tok.kind != GX_TOK_NAME)
        return fail_expected(p, &p->tok, "a loop index such as t after 'loop'");
    gx_status st = expect_name(p, &l->index, &l->index_pos);
    if (st != GX_OK) return st;
    if (!at_kw(p, GX_KW_OVER))
        return fail_expected(p, &p->tok, "'over' after loop index '%.64s'", l->index);
    advance(p);
    int cap = 0, carry_seen = 0;
    for (;;) {
        gx_ast_expr *seq = expr(p, DIMS_NONE);
        if (seq == NULL) return p->status;
        if (!GROW(p, l->seqs, l->n_seqs, &cap)) return p->status;
        l->seqs[l->n_seqs++] = seq;
        if (!at(p, ',')) break;
        advance(p);
    }
    for (;;) {
        if (at_kw(p, GX_KW_REVERSE)) {
            if (l->reverse) return clause_twice(p, "reverse");
            l->reverse = 1;
            advance(p);
        } else if (at_kw(p, GX_KW_CARRY)) {
            if (carry_seen) return clause_twice(p, "carry");
            carry_seen = 1;
            if ((st = parse_carry(p, l)) != GX_OK) return st;
        } else if (at_word(p, "axis")) {
            if (l->axis != NULL) return clause_twice(p, "axis");
            advance(p);
            if ((l->axis = expr(p, DIMS_AXIS)) == NULL) return p->status;
        } else if (at_word(p, "mask")) {
            if (l->mask != NULL) return clause_twice(p, "mask");
            advance(p);
            if ((l->mask = expr(p, DIMS_NONE)) == NULL) return p->status;
        } else {
            break;
        }
    }
    if (!at(p, '{')) return fail_expected(p, &p->tok, "'{' to begin the loop body");
    gx_srcpos open = p->tok.pos;
    advance(p);
    if ((st = parse_loop_body(p, l, open)) != GX_OK) return st;
    if (l->n_yield == 0 && l->n_carry == 0)
        return fail_at(p, GX_ERR_PARSE, e->pos, "a loop needs a carry or a yield");
    return GX_OK;
}

/* The right-hand side of an assignment or output: an expression, or a loop that is all of it. */
static gx_ast_expr *parse_rhs(parser *p) {
    if (!at_kw(p, GX_KW_LOOP)) return expr(p, DIMS_NONE);
    if (p->in_loop) {
        fail_at(p, GX_ERR_PARSE, p->tok.pos, "loops cannot be nested");
        return NULL;
    }
    gx_ast_expr *e = new_expr(p, GX_EXPR_LOOP, p->tok.pos);
    if (e == NULL || (e->loop = palloc(p, sizeof *e->loop)) == NULL) return NULL;
    p->in_loop = 1;
    gx_status st = parse_loop_rest(p, e);
    p->in_loop = 0;
    if (st != GX_OK) return NULL;
    /* `loop ... { } + 1`, `loop ... { }[0]`: the loop was meant as an operand */
    if (p->tok.kind == GX_TOK_PUNCT && strchr("+-*/%@[(", p->tok.ch) != NULL) {
        fail_at(p, GX_ERR_PARSE, p->tok.pos, "%s", loop_whole_rhs);
        return NULL;
    }
    return e;
}

/* output NAME [= expr] (, NAME [= expr])* */
static gx_status parse_output(parser *p, gx_ast_stmt *s) {
    int cap = 0;
    advance(p);
    for (;;) {
        const char *name;
        gx_srcpos pos;
        gx_ast_expr *value = NULL;
        gx_status st = expect_name(p, &name, &pos);
        if (st != GX_OK) return st;
        if (at(p, '=')) {
            advance(p);
            if ((value = parse_rhs(p)) == NULL) return p->status;
        }
        if ((st = push_name(p, s, &cap, name, pos, value)) != GX_OK) return st;
        if (!at(p, ',')) break;
        advance(p);
    }
    s->n_values = s->n_names;
    return GX_OK;
}

/* a, b = expr [probe "name"]; the expression may be a loop */
static gx_status parse_assign(parser *p, gx_ast_stmt *s) {
    int cap = 0;
    for (;;) {
        const char *name;
        gx_srcpos pos;
        gx_status st = expect_name(p, &name, &pos);
        if (st != GX_OK) return st;
        if ((st = push_name(p, s, &cap, name, pos, NULL)) != GX_OK) return st;
        if (at(p, ',')) {
            advance(p);
            continue;
        }
        if (at(p, '=')) {
            advance(p);
            break;
        }
        return fail_expected(p, &p->tok, "'=' or ',' after '%.64s'", name);
    }
    /* names/values grew together; values is only meaningful for OUTPUT and TRAIN */
    s->values = NULL;
    if ((s->value = parse_rhs(p)) == NULL) return p->status;
    if (at_kw(p, GX_KW_PROBE)) {
        advance(p);
        if (p->tok.kind != GX_TOK_STRING)
            return fail_expected(p, &p->tok, "a string after 'probe'");
        s->probe = p->tok.str;
        advance(p);
    }
    return GX_OK;
}

/* return expr (, expr)* */
static gx_status parse_return(parser *p, gx_ast_stmt *s) {
    int cap = 0;
    advance(p);
    for (;;) {
        gx_ast_expr *e = expr(p, DIMS_NONE);
        if (e == NULL) return p->status;
        if (!GROW(p, s->values, s->n_values, &cap)) return p->status;
        s->values[s->n_values++] = e;
        if (!at(p, ',')) return GX_OK;
        advance(p);
    }
}

/* train { key = expr ... }: entries need no separator, the expression ends where it must */
static gx_status parse_train(parser *p, gx_ast_stmt *s) {
    int cap = 0;
    advance(p);
    if (!at(p, '{')) return fail_expected(p, &p->tok, "'{' after 'train'");
    gx_srcpos open = p->tok.pos;
    advance(p);
    while (!at(p, '}')) {
        if (p->tok.kind == GX_TOK_EOF)
            return fail_expected(p, &p->tok, "'}' to close '{' at %d:%d", (int)open.line,
                                 (int)open.col);
        if (p->tok.kind != GX_TOK_NAME) return fail_expected(p, &p->tok, "a setting name or '}'");
        gx_srcpos pos = p->tok.pos;
        const char *key = copy_text(p, p->tok.text, p->tok.len);
        if (key == NULL) return p->status;
        advance(p);
        if (!at(p, '=')) return fail_expected(p, &p->tok, "'=' after train setting '%.64s'", key);
        advance(p);
        gx_ast_expr *value = expr(p, DIMS_NONE);
        if (value == NULL) return p->status;
        gx_status st = push_name(p, s, &cap, key, pos, value);
        if (st != GX_OK) return st;
    }
    advance(p);
    s->n_values = s->n_names;
    return GX_OK;
}

/* def NAME(p, q) { body }: only assignments and return inside */
static gx_status parse_def(parser *p, gx_ast_stmt *s) {
    int cap = 0, body_cap = 0;
    advance(p);
    gx_status st = expect_name(p, &s->name, &s->name_pos);
    if (st != GX_OK) return st;
    if (!at(p, '(')) return fail_expected(p, &p->tok, "'(' after def name '%.64s'", s->name);
    gx_srcpos open = p->tok.pos;
    advance(p);
    if (at(p, ')')) {
        advance(p);
    } else {
        for (;;) {
            const char *name;
            gx_srcpos pos;
            if ((st = expect_name(p, &name, &pos)) != GX_OK) return st;
            if ((st = push_name(p, s, &cap, name, pos, NULL)) != GX_OK) return st;
            if (at(p, ',')) {
                advance(p);
                continue;
            }
            if (at(p, ')')) {
                advance(p);
                break;
            }
            return fail_expected(p, &p->tok, "')' to close '(' at %d:%d", (int)open.line,
                                 (int)open.col);
        }
    }
    s->values = NULL;
    if (!at(p, '{'))
        return fail_expected(p, &p->tok, "'{' to begin the body of '%.64s'", s->name);
    open = p->tok.pos;
    advance(p);
    while (!at(p, '}')) {
        if (p->tok.kind == GX_TOK_EOF)
            return fail_expected(p, &p->tok, "'}' to close '{' at %d:%d", (int)open.line,
                                 (int)open.col);
        gx_ast_stmt *b;
        if ((st = parse_stmt(p, IN_DEF, &b)) != GX_OK) return st;
        if (!GROW(p, s->body, s->n_body, &body_cap)) return p->status;
        s->body[s->n_body++] = b;
    }
    advance(p);
    return GX_OK;
}

/* One statement in ctx. Clause words (init, probe, over, carry, reverse) never start one. */
static gx_status parse_stmt(parser *p, stmt_ctx ctx, gx_ast_stmt **out) {
    static const gx_ast_stmt_kind kinds[GX_KW_IMPORT + 1] = {
        [GX_KW_GRAPH] = GX_STMT_GRAPH,   [GX_KW_DIM] = GX_STMT_DIM,
        [GX_KW_INPUT] = GX_STMT_INPUT,   [GX_KW_PARAM] = GX_STMT_PARAM,
        [GX_KW_OUTPUT] = GX_STMT_OUTPUT, [GX_KW_DEF] = GX_STMT_DEF,
        [GX_KW_RETURN] = GX_STMT_RETURN, [GX_KW_TRAIN] = GX_STMT_TRAIN,
        [GX_KW_STATE] = GX_STMT_STATE,   [GX_KW_IMPORT] = GX_STMT_IMPORT,
    };
    const gx_token *t = &p->tok;
    gx_ast_stmt *s;
    gx_status st;
    *out = NULL;
    if (t->kind == GX_TOK_NAME) {
        if ((s = new_stmt(p, GX_STMT_ASSIGN)) == NULL) return p->status;
        st = parse_assign(p, s);
    } else if (t->kind != GX_TOK_KEYWORD || t->kw == GX_KW_INIT || t->kw == GX_KW_PROBE ||
               t->kw == GX_KW_OVER || t->kw == GX_KW_CARRY || t->kw == GX_KW_REVERSE) {
        return fail_expected(p, t, ctx != IN_TOP ? "a statement or '}'" : "a statement");
    } else if (gx_keyword_reserved(t->kw)) {
        return fail_at(p, GX_ERR_PARSE, t->pos, "'%s' is not supported by this version of gexec",
                       gx_keyword_name(t->kw));
    } else if (t->kw == GX_KW_LOOP) {
        return fail_at(p, GX_ERR_PARSE, t->pos, "%s",
                       ctx == IN_LOOP ? "loops cannot be nested" : loop_whole_rhs);
    } else if (t->kw == GX_KW_YIELD) {
        /* a loop body takes its yield itself, so this one is misplaced */
        return fail_at(p, GX_ERR_PARSE, t->pos, "'yield' outside a loop body");
    } else if (ctx == IN_LOOP) {
        return fail_at(p, GX_ERR_PARSE, t->pos, "'%s' is not allowed inside a loop body",
                       gx_keyword_name(t->kw));
    } else if (ctx == IN_DEF && t->kw == GX_KW_DEF) {
        return fail_at(p, GX_ERR_PARSE, t->pos, "nested 'def' is not allowed");
    } else if (ctx == IN_DEF && t->kw != GX_KW_RETURN) {
        return fail_at(p, GX_ERR_PARSE, t->pos, "'%s' is not allowed inside a def",
                       gx_keyword_name(t->kw));
    } else if (ctx == IN_TOP && t->kw == GX_KW_RETURN) {
        return fail_at(p, GX_ERR_PARSE, t->pos, "'return' outside a def");
    } else {
        if ((s = new_stmt(p, kinds[t->kw])) == NULL) return p->status;
        switch (s->kind) {
        case GX_STMT_GRAPH: st = parse_graph(p, s); break;
        case GX_STMT_PARAM: st = parse_param(p, s); break;
        case GX_STMT_STATE: st = parse_state(p, s); break;
        case GX_STMT_IMPORT: st = parse_import(p, s); break;
        case GX_STMT_OUTPUT: st = parse_output(p, s); break;
        case GX_STMT_DEF: st = parse_def(p, s); break;
        case GX_STMT_RETURN: st = parse_return(p, s); break;
        case GX_STMT_TRAIN: st = parse_train(p, s); break;
        default: st = parse_simple(p, s); break;
        }
    }
    if (st != GX_OK) return st;
    *out = s;
    return GX_OK;
}

gx_status gx_parse(const char *src, size_t n, const char *file, gx_ast_module **out, gx_diag *d) {
    if (out == NULL) return gx_diag_set(d, GX_ERR_INVALID, "gx_parse: out is NULL");
    *out = NULL;
    if (file == NULL) file = "<input>";
    if (src == NULL && n > 0) return gx_diag_set(d, GX_ERR_INVALID, "gx_parse: src is NULL");
    if (n > MAX_INPUT_BYTES) {
        gx_srcpos pos = {file, 0, 0};
        return gx_diag_at(d, GX_ERR_PARSE, pos, "file too large: %zu bytes (the limit is %zu MiB)",
                          n, MAX_INPUT_BYTES >> 20);
    }
    gx_ast_module *m = gx_calloc(1, sizeof *m);
    if (m == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory while parsing %s", file);
    gx_arena_init(&m->arena);
    if ((m->file = gx_arena_strdup(&m->arena, file)) == NULL) {
        gx_ast_free(m);
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory while parsing %s", file);
    }
    parser p;
    memset(&p, 0, sizeof p);
    p.m = m;
    p.d = d;
    gx_lex_init(&p.lx, src != NULL ? src : "", n, m->file, &m->arena);
    advance(&p);
    int cap = 0;
    while (p.tok.kind != GX_TOK_EOF) {
        gx_ast_stmt *s;
        if (parse_stmt(&p, IN_TOP, &s) != GX_OK) break;
        if (!GROW(&p, m->stmts, m->n_stmts, &cap)) break;
        m->stmts[m->n_stmts++] = s;
    }
    if (p.status != GX_OK) {
        gx_ast_free(m);
        return p.status;
    }
    *out = m;
    return GX_OK;
}

void gx_ast_free(gx_ast_module *m) {
    if (m == NULL) return;
    gx_arena_free(&m->arena);
    gx_free(m);
}

// ---- printer ----

typedef struct printer {
    void (*write)(void *ud, const char *s);
    void *ud;
    int   indent;   /* of the statement being printed: a loop's body goes 2 further in */
} printer;

static void put(const printer *pr, const char *s) {
    pr->write(pr->ud, s);
}

/* Shortest "%.*g" that reads back exactly, with '.' whatever the locale, and always a '.' or
 * an exponent so a float never prints like an integer literal. */
static void format_double(double v, char *buf, size_t n) {
    const char *dp = localeconv()->decimal_point;
    size_t dpl = dp ? strlen(dp) : 0;
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        char *q = dpl > 0 && strcmp(dp, ".") != 0 ? strstr(buf, dp) : NULL;
        if (q != NULL) {
            *q = '.';
            memmove(q + 1, q + dpl, strlen(q + dpl) + 1);
        }
        double back;
        if (gx_lex_strtod(buf, strlen(buf), &back) && back == v) break;
    }
    if (strpbrk(buf, ".eEn") == NULL) strncat(buf, ".0", n - strlen(buf) - 1);
}

static void print_expr(const printer *pr, const gx_ast_expr *e);
static void print_stmt(const printer *pr, const gx_ast_stmt *s, int indent);

static void put_indent(const printer *pr, int indent) {
    for (int i = 0; i < indent; i++) put(pr, " ");
}

/* (loop t (over xs) (axis 0) reverse (mask m) (carry (= h h0))
 *   body statements
 *   (yield h)) */
static void print_loop(const printer *pr, const gx_ast_loop *l) {
    put(pr, "(loop ");
    put(pr, l->index);
    put(pr, " (over");
    for (int i = 0; i < l->n_seqs; i++) {
        put(pr, " ");
        print_expr(pr, l->seqs[i]);
    }
    put(pr, ")");
    if (l->axis) {
        put(pr, " (axis ");
        print_expr(pr, l->axis);
        put(pr, ")");
    }
    if (l->reverse) put(pr, " reverse");
    if (l->mask) {
        put(pr, " (mask ");
        print_expr(pr, l->mask);
        put(pr, ")");
    }
    if (l->n_carry > 0) {
        put(pr, " (carry");
        for (int i = 0; i < l->n_carry; i++) {
            put(pr, " (= ");
            put(pr, l->carry_names[i]);
            put(pr, " ");
            print_expr(pr, l->carry_inits[i]);
            put(pr, ")");
        }
        put(pr, ")");
    }
    for (int i = 0; i < l->n_body; i++) {
        put(pr, "\n");
        print_stmt(pr, l->body[i], pr->indent + 2);
    }
    if (l->n_yield > 0) {
        put(pr, "\n");
        put_indent(pr, pr->indent + 2);
        put(pr, "(yield");
        for (int i = 0; i < l->n_yield; i++) {
            put(pr, " ");
            print_expr(pr, l->yields[i]);
        }
        put(pr, ")");
    }
    put(pr, ")");
}

static void print_args(const printer *pr, const gx_ast_expr *e) {
    for (int i = 0; i < e->n_args; i++) {
        put(pr, " ");
        if (e->args[i].name != NULL) {
            put(pr, e->args[i].name);
            put(pr, "=");
        }
        print_expr(pr, e->args[i].value);
    }
}

static void print_string(const printer *pr, const char *s) {
    char buf[256];
    size_t k = 0;
    buf[k++] = '"';
    for (; *s; s++) {
        const char *esc = *s == '"' ? "\\\"" : *s == '\\' ? "\\\\" : *s == '\n' ? "\\n"
                        : *s == '\t' ? "\\t" : NULL;
        if (k + 3 >= sizeof buf) {
            buf[k] = '\0';
            put(pr, buf);
            k = 0;
        }
        if (esc) {
            buf[k++] = esc[0];
            buf[k++] = esc[1];
        } else {
            buf[k++] = *s;
        }
    }
    buf[k++] = '"';
    buf[k] = '\0';
    put(pr, buf);
}

static void print_expr(const printer *pr, const gx_ast_expr *e) {
    char buf[64];
    if (e == NULL) {
        put(pr, "<null>");
        return;
    }
    switch (e->kind) {
    case GX_EXPR_NUMBER:
        if (e->is_int)
            snprintf(buf, sizeof buf, "%lld", e->ival);
        else
            format_double(e->num, buf, sizeof buf);
        put(pr, buf);
        return;
    case GX_EXPR_STRING: print_string(pr, e->str ? e->str : ""); return;
    case GX_EXPR_NAME: put(pr, e->name); return;
    case GX_EXPR_UNARY:
    case GX_EXPR_BINARY:
        snprintf(buf, sizeof buf, "(%c ", e->op);
        put(pr, buf);
        print_expr(pr, e->lhs);
        if (e->kind == GX_EXPR_BINARY) {
            put(pr, " ");
            print_expr(pr, e->rhs);
        }
        put(pr, ")");
        return;
    case GX_EXPR_CALL:
        put(pr, "(call ");
        put(pr, e->name);
        break;
    case GX_EXPR_INDEX:
        put(pr, "(index ");
        print_expr(pr, e->lhs);
        break;
    case GX_EXPR_LIST: put(pr, "(list"); break;
    case GX_EXPR_LOOP:
        if (e->loop) print_loop(pr, e->loop);
        else put(pr, "(loop <null>)");
        return;
    }
    print_args(pr, e);
    put(pr, ")");
}

static void print_type(const printer *pr, const gx_ast_type *t) {
    put(pr, " (type ");
    put(pr, t->dtype ? t->dtype : "<null>");
    for (int i = 0; i < t->n_dims; i++) {
        put(pr, " ");
        print_expr(pr, t->dims[i]);
    }
    put(pr, ")");
}

/* One statement, without the final newline (a def's closing parenthesis ends its last line). */
static void print_stmt(const printer *outer, const gx_ast_stmt *s, int indent) {
    static const char *const names[] = {"graph",  "dim",    "input", "param", "output", "assign",
                                        "def",    "return", "train", "state", "import"};
    static const char *const state_kinds[] = {"zeros", "input", "param"};
    printer sub = *outer;   /* loops inside this statement's expressions indent from here */
    const printer *pr = &sub;
    sub.indent = indent;
    put_indent(pr, indent);
    put(pr, "(");
    put(pr, names[s->kind]);
    if (s->name != NULL && s->kind != GX_STMT_ASSIGN && s->kind != GX_STMT_OUTPUT) {
        put(pr, " ");
        put(pr, s->name);
    }
    switch (s->kind) {
    case GX_STMT_GRAPH:
        for (int i = 0; i < s->n_names; i++) {
            put(pr, " (= ");
            put(pr, s->names[i]);
            put(pr, " ");
            print_expr(pr, s->values ? s->values[i] : NULL);
            put(pr, ")");
        }
        break;
    case GX_STMT_IMPORT:
        put(pr, " ");
        print_string(pr, s->path ? s->path : "");
        break;
    case GX_STMT_DIM:
        if (s->value) {
            put(pr, " ");
            print_expr(pr, s->value);
        }
        break;
    case GX_STMT_INPUT:
    case GX_STMT_PARAM:
    case GX_STMT_STATE:
        print_type(pr, &s->type);
        if (s->kind == GX_STMT_STATE && (unsigned)s->state_kind <= GX_STATE_PARAM) {
            put(pr, " ");
            put(pr, state_kinds[s->state_kind]);
        }
        if (s->init) {
            put(pr, " (init ");
            print_expr(pr, s->init);
            put(pr, ")");
        }
        break;
    case GX_STMT_OUTPUT:
        for (int i = 0; i < s->n_names; i++) {
            put(pr, " ");
            if (s->values && s->values[i]) {
                put(pr, "(= ");
                put(pr, s->names[i]);
                put(pr, " ");
                print_expr(pr, s->values[i]);
                put(pr, ")");
            } else {
                put(pr, s->names[i]);
            }
        }
        break;
    case GX_STMT_ASSIGN:
    case GX_STMT_DEF:
        put(pr, " (");
        for (int i = 0; i < s->n_names; i++) {
            if (i) put(pr, " ");
            put(pr, s->names[i]);
        }
        put(pr, ")");
        if (s->kind == GX_STMT_ASSIGN) {
            put(pr, " ");
            print_expr(pr, s->value);
            if (s->probe) {
                put(pr, " (probe ");
                print_string(pr, s->probe);
                put(pr, ")");
            }
        }
        for (int i = 0; i < s->n_body; i++) {
            put(pr, "\n");
            print_stmt(pr, s->body[i], indent + 2);
        }
        break;
    case GX_STMT_RETURN:
        for (int i = 0; i < s->n_values; i++) {
            put(pr, " ");
            print_expr(pr, s->values[i]);
        }
        break;
    case GX_STMT_TRAIN:
        for (int i = 0; i < s->n_names; i++) {
            put(pr, "\n");
            put_indent(pr, indent + 2);
            put(pr, "(= ");
            put(pr, s->names[i]);
            put(pr, " ");
            print_expr(pr, s->values[i]);
            put(pr, ")");
        }
        break;
    }
    put(pr, ")");
}

void gx_ast_print(const gx_ast_module *m, void (*write)(void *ud, const char *s), void *ud) {
    if (m == NULL || write == NULL) return;
    printer pr = {write, ud, 0};
    for (int i = 0; i < m->n_stmts; i++) {
        print_stmt(&pr, m->stmts[i], 0);
        put(&pr, "\n");
    }
}
