/*
 * ast.h: the syntax tree of a .graph file, as the parser builds it.
 *
 * The language is free-form (newlines are whitespace): a statement starts with a keyword or with
 * `name (, name)* =`, and an expression ends where the next token cannot continue it. All AST
 * memory lives in the module's arena. Names are not resolved here (that is lowering's job), so
 * the AST is also what `gexec check --ast` prints.
 */
#ifndef GX_AST_H
#define GX_AST_H

#include "arena.h"
#include "diag.h"

typedef struct gx_ast_expr gx_ast_expr;
typedef struct gx_ast_stmt gx_ast_stmt;
typedef struct gx_ast_loop gx_ast_loop;

typedef enum gx_ast_expr_kind {
    GX_EXPR_NUMBER,   /* 2, 0.5, 1e-3: num (and is_int, ival for integer literals)        */
    GX_EXPR_STRING,   /* "gate.forget": str                                               */
    GX_EXPR_NAME,     /* x: name                                                          */
    GX_EXPR_UNARY,    /* -x: op = '-', lhs                                                */
    GX_EXPR_BINARY,   /* a + b: op in + - * / % @, lhs, rhs                                */
    GX_EXPR_CALL,     /* f(a, b, axis = 1): name = callee, args                           */
    GX_EXPR_INDEX,    /* x[i, j]: lhs = x, args (positional only)                          */
    GX_EXPR_LIST,     /* [1, 2, B*H]: args (positional only)                               */
    GX_EXPR_LOOP      /* loop t over x ... { ... }: loop                                   */
} gx_ast_expr_kind;

typedef struct gx_ast_arg {
    const char  *name;      /* NULL for a positional argument; "axis" in `axis = 1`      */
    gx_ast_expr *value;
    gx_srcpos    pos;
} gx_ast_arg;

struct gx_ast_expr {
    gx_ast_expr_kind kind;
    gx_srcpos        pos;    /* the first token of the expression; for BINARY, the operator */
    double           num;
    int              is_int; /* NUMBER written without '.', 'e': ival holds it exactly      */
    long long        ival;
    const char      *str;    /* STRING contents, escapes resolved                          */
    const char      *name;   /* NAME, CALL callee                                          */
    char             op;
    gx_ast_expr     *lhs, *rhs;
    int              n_args;
    gx_ast_arg      *args;
    gx_ast_loop     *loop;   /* LOOP */
};

/*
 * loop t over x, y [axis 0] [reverse] [mask m] carry (h = h0, c = c0) {
 *     h, c = lstm_cell(x[t], h, c, W_ih, W_hh, b_ih, b_hh)
 *     yield h
 * }
 * Inside the body, `x[t]` is the step's slice of sequence x; the carry names hold the carried
 * values. The loop's results are the yields stacked on the time axis, then the final carries.
 */
struct gx_ast_loop {
    const char   *index;        /* "t"                                                      */
    gx_srcpos     index_pos;
    int           n_seqs;       /* the sequences after `over`                               */
    gx_ast_expr **seqs;
    gx_ast_expr  *axis;         /* `axis N`: the time axis, NULL for the default (1)        */
    int           reverse;      /* `reverse`: t runs from T-1 down to 0                     */
    gx_ast_expr  *mask;         /* `mask m`: [B, T]; NULL when absent                        */
    int           n_carry;      /* `carry (h = h0, ...)`; may be 0 (no carry clause)         */
    const char  **carry_names;
    gx_srcpos    *carry_pos;
    gx_ast_expr **carry_inits;
    int           n_body;       /* body statements: assignments only                        */
    gx_ast_stmt **body;
    int           n_yield;      /* the final `yield e1, e2`; 0 when absent                   */
    gx_ast_expr **yields;
    gx_srcpos     yield_pos;
};

/* dtype[dim, dim, ...]: `f32[B, T]`, `i32[]` (a scalar) */
typedef struct gx_ast_type {
    const char   *dtype;    /* as written; lowering checks it                           */
    gx_srcpos     dtype_pos;
    int           n_dims;
    gx_ast_expr **dims;
} gx_ast_type;

typedef enum gx_ast_stmt_kind {
    GX_STMT_GRAPH,   /* graph NAME [(key = expr, ...)]: attributes in names/values            */
    GX_STMT_DIM,     /* dim NAME [= expr]              (no value: bound from inputs later)   */
    GX_STMT_INPUT,   /* input NAME : type                                                    */
    GX_STMT_PARAM,   /* param NAME : type [init CALL-or-NAME]                                */
    GX_STMT_OUTPUT,  /* output NAME [= expr] (, NAME [= expr])*: names/values with n_names    */
    GX_STMT_ASSIGN,  /* a, b = expr [probe "x"]                                              */
    GX_STMT_DEF,     /* def NAME(p, q) { body }                                              */
    GX_STMT_RETURN,  /* return expr (, expr)*  (inside def only)                             */
    GX_STMT_TRAIN,   /* train { key = expr ... }: names[i] = values[i]                       */
    GX_STMT_STATE,   /* state NAME : type = 0 | = input | = param init SCHEME: state_kind     */
    GX_STMT_IMPORT   /* import "path.graph": path; the file's defs become visible             */
} gx_ast_stmt_kind;

typedef enum gx_ast_state_kind {
    GX_STATE_ZEROS = 0,   /* `= 0`: zeros unless the caller feeds it (stateful streaming)     */
    GX_STATE_INPUT,       /* `= input`: the caller must feed it                               */
    GX_STATE_PARAM        /* `= param init SCHEME`: a learned initial state                    */
} gx_ast_state_kind;

struct gx_ast_stmt {
    gx_ast_stmt_kind kind;
    gx_srcpos        pos;        /* the statement's first token                              */
    const char      *name;       /* GRAPH, DIM, INPUT, PARAM, DEF                             */
    gx_srcpos        name_pos;
    gx_ast_expr     *value;      /* DIM (may be NULL), ASSIGN                                 */
    gx_ast_type      type;       /* INPUT, PARAM                                             */
    gx_ast_expr     *init;       /* PARAM: NAME or CALL expr, NULL when absent                */
    /* ASSIGN targets / OUTPUT names / DEF params / TRAIN keys; RETURN uses values only */
    int              n_names;
    const char     **names;
    gx_srcpos       *names_pos;
    gx_ast_expr    **values;     /* OUTPUT: per name, NULL for `output x`; TRAIN, RETURN      */
    int              n_values;   /* RETURN, TRAIN                                            */
    const char      *probe;      /* ASSIGN: `probe "name"`, NULL when absent                  */
    int              n_body;     /* DEF                                                      */
    gx_ast_stmt    **body;
    gx_ast_state_kind state_kind; /* STATE (with type, and init for GX_STATE_PARAM)          */
    const char      *path;       /* IMPORT: the string as written                            */
    /* GRAPH: attributes in `graph NAME (unroll = 1)`: names/values with n_names = n_values */
};

typedef struct gx_ast_module {
    gx_arena      arena;
    const char   *file;          /* display name used in every position                     */
    int           n_stmts;
    gx_ast_stmt **stmts;
} gx_ast_module;

/* Parse `src` (n bytes, need not be NUL-terminated). On error: a message in d (first error,
 * `file:line:col: error: expected X, found Y`), *out = NULL. Never crashes or hangs on any
 * bytes: nesting depth and input size are bounded. */
gx_status gx_parse(const char *src, size_t n, const char *file, gx_ast_module **out, gx_diag *d);
void      gx_ast_free(gx_ast_module *m);
/* Print the AST as indented text (for `gexec check --ast` and tests). */
void      gx_ast_print(const gx_ast_module *m, void (*write)(void *ud, const char *s), void *ud);

#endif
