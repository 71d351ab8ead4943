/*
 * lower.c: AST -> graph IR (see lower.h).
 *
 * Evaluation is over a small value type (ev): a tensor in the graph, a number (dims and
 * literals), a string, a list of numbers, or a dtype name. Numbers stay numbers until they meet
 * a tensor, where they become `full` constants of that tensor's dtype, so `1 - z` works in f32
 * and f64 alike. Names live in scopes: the global one, and one per inlined `def` call.
 */
#include "lower.h"
#include "hoist.h"
#include "probes.h"

#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the most steps a loop may be unrolled into: more is an error, not hours of lowering */
#define GX_MAX_UNROLL_STEPS 100000
/* the most steps a looped loop may run: 10^7 steps of even a tiny body are hours of work and
 * gigabytes of saved residuals; a dim of 10^9 in a file is a typo, said at once */
#define GX_MAX_LOOP_STEPS   10000000

#define MAX_CALL_DEPTH 32
#define MAX_RESULTS    64
#define MAX_ARGS       64

typedef enum ev_kind { EV_TENSOR, EV_NUMBER, EV_STRING, EV_LIST, EV_DTYPE } ev_kind;

typedef struct ev {
    ev_kind     kind;
    gx_val      val;       /* TENSOR */
    double      num;       /* NUMBER */
    int         is_int;
    int64_t     ival;
    const char *str;       /* STRING */
    int32_t     n_ints;    /* LIST (integers only) */
    int64_t     ints[GX_MAX_DIMS];
    gx_dtype    dtype;     /* DTYPE */
} ev;

typedef enum sym_kind { SYM_VALUE, SYM_DIM, SYM_NUMBER, SYM_DEF, SYM_UNBOUND_DIM } sym_kind;

typedef struct sym {
    const char        *name;
    sym_kind           kind;
    gx_val             val;
    int64_t            dim;
    double             num;       /* SYM_NUMBER: a fractional def argument */
    const gx_ast_stmt *def;
    gx_srcpos          pos;
    int                fixed;   /* input, param or dim: cannot be reassigned */
} sym;

typedef struct scope {
    struct scope *parent;
    gx_graph     *graph;      /* the graph its values live in (a loop body has its own)     */
    sym          *syms;
    int           n, cap;
} scope;

typedef struct loop_ctx loop_ctx;

typedef struct lower {
    gx_graph             *g;          /* the graph being built (a loop body, inside a loop) */
    loop_ctx             *loop;       /* the loop being lowered, or NULL                     */
    int                   unroll;     /* lower loops by unrolling them                       */
    gx_ast_module       **imports;    /* modules imported, kept alive for their defs         */
    int32_t               n_imports, cap_imports;
    int                   import_depth;
    gx_diag              *d;
    const gx_dim_binding *binds;
    int                   n_binds;
    int                   depth;
    gx_srcpos             graph_stmt;   /* where `graph NAME` was, once seen */
    int                   train;        /* training graph: GX_OP_TRAIN_ONLY ops act           */
    int                   diag;         /* add diagnostics taps to top-level loops (probes.h)  */
    gx_graph             *top;          /* the graph being lowered (not a loop body)          */
    uint32_t              site;         /* hash of the def call sites we are inlined through  */
} lower;

/* ---- scopes ---- */

static sym *scope_find_local(scope *s, const char *name) {
    for (int i = s->n - 1; i >= 0; i--)
        if (strcmp(s->syms[i].name, name) == 0) return &s->syms[i];
    return NULL;
}

static sym *scope_find_owner(scope *s, const char *name, scope **owner) {
    for (; s; s = s->parent) {
        sym *y = scope_find_local(s, name);
        if (y) {
            if (owner) *owner = s;
            return y;
        }
    }
    return NULL;
}

static sym *scope_find(scope *s, const char *name) { return scope_find_owner(s, name, NULL); }

static gx_status scope_add(lower *L, scope *s, sym y) {
    sym *old = scope_find_local(s, y.name);
    if (old) {
        *old = y;
        return GX_OK;
    }
    if (s->n == s->cap) {
        int nc = s->cap ? s->cap * 2 : 32;
        sym *p = gx_realloc(s->syms, sizeof(sym) * (size_t)nc);
        if (p == NULL) return gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
        s->syms = p;
        s->cap = nc;
    }
    s->syms[s->n++] = y;
    return GX_OK;
}

/* every name visible from s, plus the registry's ops when with_ops, for "did you mean" */
static const char *suggest(lower *L, scope *s, const char *name, int with_ops) {
    enum { MAXN = 1024 };
    const char *names[MAXN];
    int n = 0;
    for (scope *t = s; t; t = t->parent)
        for (int i = 0; i < t->n && n < MAXN; i++) names[n++] = t->syms[i].name;
    if (with_ops)
        for (int i = 0; i < gx_registry_n_ops(L->g->reg) && n < MAXN; i++)
            names[n++] = gx_registry_op_at(L->g->reg, i)->name;
    return gx_nearest_name(name, names, n);
}

static gx_status unknown_name(lower *L, scope *s, gx_srcpos pos, const char *what,
                              const char *name, int with_ops) {
    const char *near = suggest(L, s, name, with_ops);
    return gx_diag_at(L->d, GX_ERR_NOT_FOUND, pos, "unknown %s '%s'%s%s%s", what, name,
                      near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
}

/* ---- numbers and tensors ---- */

static ev ev_int(int64_t v) {
    ev e = {.kind = EV_NUMBER, .num = (double)v, .is_int = 1, .ival = v};
    return e;
}

static ev ev_float(double v) {
    ev e = {.kind = EV_NUMBER, .num = v};
    return e;
}

static const char *ev_kind_name(const ev *e) {
    switch (e->kind) {
    case EV_TENSOR: return "a tensor";
    case EV_NUMBER: return "a number";
    case EV_STRING: return "a string";
    case EV_LIST: return "a list";
    case EV_DTYPE: return "a dtype";
    }
    return "?";
}

static gx_status make_constant(lower *L, double value, gx_dtype dt, gx_srcpos pos, gx_val *out) {
    gx_builder b = {.g = L->g, .diag = L->d, .pos = pos};
    gx_shape scalar = {0};
    return gx_builder_emit_constant(&b, value, dt, &scalar, out);
}

/* a tensor from an ev: numbers become scalar constants of dtype `dt` */
static gx_status to_tensor(lower *L, const ev *e, gx_dtype dt, gx_srcpos pos, gx_val *out) {
    if (e->kind == EV_TENSOR) {
        *out = e->val;
        return GX_OK;
    }
    if (e->kind == EV_NUMBER) return make_constant(L, e->num, dt, pos, out);
    return gx_diag_at(L->d, GX_ERR_INVALID, pos, "expected a tensor or a number, found %s",
                      ev_kind_name(e));
}

static gx_status emit_op(lower *L, const char *opname, const gx_val *in, int n_in,
                         const gx_attr_kv *kv, int n_kv, gx_srcpos pos, gx_val *out, int max_out,
                         int32_t *n_out) {
    const gx_op *op = gx_registry_find_op(L->g->reg, opname);
    if (op == NULL)
        return gx_diag_at(L->d, GX_ERR_NOT_FOUND, pos,
                          "op '%s' is not loaded (is the core ops plugin installed?)", opname);
    gx_attr_value attrs[64];
    gx_status st = gx_attrs_resolve(L->g, op, kv, n_kv, attrs, pos, L->d);
    if (st != GX_OK) return st;
    return gx_graph_add_node(L->g, op, in, n_in, attrs, pos, 0, out, max_out, n_out, L->d);
}

/* ---- expressions ---- */

static gx_status eval(lower *L, scope *s, const gx_ast_expr *x, ev *out);
static gx_status eval_call(lower *L, scope *s, const gx_ast_expr *x, ev *outs, int max_out,
                           int *n_out);

static gx_status eval_int(lower *L, scope *s, const gx_ast_expr *x, const char *what,
                          int64_t *out) {
    ev e;
    gx_status st = eval(L, s, x, &e);
    if (st != GX_OK) return st;
    if (e.kind != EV_NUMBER || !e.is_int)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "%s must be an integer, found %s", what,
                          e.kind == EV_NUMBER ? "a fractional number" : ev_kind_name(&e));
    *out = e.ival;
    return GX_OK;
}

static int mul_overflows(int64_t a, int64_t b) {
    if (a == 0 || b == 0) return 0;
    int64_t r;
    return __builtin_mul_overflow(a, b, &r);
}

static gx_status number_binary(lower *L, char op, const ev *a, const ev *b, gx_srcpos pos,
                               ev *out) {
    if (a->is_int && b->is_int) {
        int64_t x = a->ival, y = b->ival, r = 0;
        switch (op) {
        case '+':
            if (__builtin_add_overflow(x, y, &r)) goto overflow;
            *out = ev_int(r);
            return GX_OK;
        case '-':
            if (__builtin_sub_overflow(x, y, &r)) goto overflow;
            *out = ev_int(r);
            return GX_OK;
        case '*':
            if (mul_overflows(x, y)) goto overflow;
            *out = ev_int(x * y);
            return GX_OK;
        case '/':
        case '%':
            if (y == 0) return gx_diag_at(L->d, GX_ERR_INVALID, pos, "division by zero");
            if (x == INT64_MIN && y == -1) goto overflow;
            if (op == '%') {
                *out = ev_int(x % y);
                return GX_OK;
            }
            /* exact integer division stays an integer (dim arithmetic: 4*H/2) */
            *out = x % y == 0 ? ev_int(x / y) : ev_float((double)x / (double)y);
            return GX_OK;
        case '@':
            break;
        }
    }
    switch (op) {
    case '+': *out = ev_float(a->num + b->num); return GX_OK;
    case '-': *out = ev_float(a->num - b->num); return GX_OK;
    case '*': *out = ev_float(a->num * b->num); return GX_OK;
    case '/':
        if (b->num == 0) return gx_diag_at(L->d, GX_ERR_INVALID, pos, "division by zero");
        *out = ev_float(a->num / b->num);
        return GX_OK;
    case '%': return gx_diag_at(L->d, GX_ERR_INVALID, pos, "'%%' needs two integers");
    case '@':
        return gx_diag_at(L->d, GX_ERR_INVALID, pos, "'@' needs tensors, found numbers");
    }
    return gx_diag_at(L->d, GX_ERR_INVALID, pos, "unknown operator '%c'", op);
overflow:
    return gx_diag_at(L->d, GX_ERR_INVALID, pos, "integer overflow in '%c'", op);
}

static const char *binary_op_name(char op) {
    switch (op) {
    case '+': return "add";
    case '-': return "sub";
    case '*': return "mul";
    case '/': return "div";
    case '@': return "matmul";
    }
    return NULL;
}

static gx_status eval_binary(lower *L, scope *s, const gx_ast_expr *x, ev *out) {
    ev a, b;
    gx_status st = eval(L, s, x->lhs, &a);
    if (st == GX_OK) st = eval(L, s, x->rhs, &b);
    if (st != GX_OK) return st;
    if (a.kind == EV_NUMBER && b.kind == EV_NUMBER) return number_binary(L, x->op, &a, &b, x->pos, out);
    if ((a.kind != EV_TENSOR && a.kind != EV_NUMBER) || (b.kind != EV_TENSOR && b.kind != EV_NUMBER))
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "'%c' cannot combine %s and %s", x->op,
                          ev_kind_name(&a), ev_kind_name(&b));
    const char *opname = binary_op_name(x->op);
    if (opname == NULL)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "'%c' is only defined on integers", x->op);
    gx_dtype dt = a.kind == EV_TENSOR ? L->g->values[a.val].info.dtype
                                      : L->g->values[b.val].info.dtype;
    gx_val in[2], y;
    st = to_tensor(L, &a, dt, x->lhs->pos, &in[0]);
    if (st == GX_OK) st = to_tensor(L, &b, dt, x->rhs->pos, &in[1]);
    if (st == GX_OK) st = emit_op(L, opname, in, 2, NULL, 0, x->pos, &y, 1, NULL);
    if (st != GX_OK) return st;
    *out = (ev){.kind = EV_TENSOR, .val = y};
    return GX_OK;
}

/* ---- loops ---- */

static gx_status name_value_if_unnamed(lower *L, gx_val v, const char *name);

struct loop_ctx {
    const gx_ast_loop *ast;
    gx_graph          *outer;      /* the graph around the loop                              */
    int32_t            n_seq;
    gx_val            *seq_cur;    /* this step's slice of each sequence (in L->g)           */
    /* invariants captured into a looped body: outer value -> body input */
    gx_val            *cap_outer, *cap_body;
    int32_t            n_cap, cap_cap;
};

/* An outer value used inside a looped body becomes a body input (an invariant). */
static gx_status capture(lower *L, gx_val outer, gx_val *out) {
    loop_ctx *c = L->loop;
    for (int32_t i = 0; i < c->n_cap; i++)
        if (c->cap_outer[i] == outer) {
            *out = c->cap_body[i];
            return GX_OK;
        }
    const gx_value *ov = &c->outer->values[outer];
    int32_t cap = c->cap_cap;
    gx_val *co = gx_grow(c->cap_outer, &cap, c->n_cap + 1, sizeof(gx_val));
    if (co == NULL) return gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
    c->cap_outer = co;
    cap = c->cap_cap;
    gx_val *cb = gx_grow(c->cap_body, &cap, c->n_cap + 1, sizeof(gx_val));
    if (cb == NULL) return gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
    c->cap_body = cb;
    c->cap_cap = cap;
    gx_val in;
    gx_status st = gx_graph_add_input(L->g, ov->name ? ov->name : "invariant", ov->info, ov->pos,
                                      &in, L->d);
    if (st != GX_OK) return st;
    c->cap_outer[c->n_cap] = outer;
    c->cap_body[c->n_cap++] = in;
    *out = in;
    return GX_OK;
}

static gx_status eval_name(lower *L, scope *s, const gx_ast_expr *x, ev *out) {
    if (L->loop && strcmp(x->name, L->loop->ast->index) == 0)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "the loop index '%s' can only pick a "
                          "step of a sequence, as in x[%s]", x->name, x->name);
    scope *owner = NULL;
    sym *y = scope_find_owner(s, x->name, &owner);
    if (y == NULL) {
        gx_dtype dt = gx_dtype_from_name(x->name);
        if (dt != GX_DTYPE_INVALID) {
            *out = (ev){.kind = EV_DTYPE, .dtype = dt};
            return GX_OK;
        }
        return unknown_name(L, s, x->pos, "name", x->name, 0);
    }
    switch (y->kind) {
    case SYM_VALUE:
        *out = (ev){.kind = EV_TENSOR, .val = y->val};
        if (owner->graph != L->g) {
            if (L->loop == NULL)
                return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "'%s' belongs to a loop body",
                                  x->name);
            return capture(L, y->val, &out->val);
        }
        return GX_OK;
    case SYM_DIM: *out = ev_int(y->dim); return GX_OK;
    case SYM_NUMBER: *out = ev_float(y->num); return GX_OK;
    case SYM_UNBOUND_DIM:
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos,
                          "dim '%s' has no value; give it one (`dim %s = 4`) or bind it "
                          "(--dim %s=4)", x->name, x->name, x->name);
    case SYM_DEF:
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "'%s' is a def; call it: %s(...)",
                          x->name, x->name);
    }
    return GX_ERR_INVALID;
}

/* eval recurses once per level of an expression (up to the parser's MAX_HEIGHT), so the cases
 * with big locals (a call's results, an index's attributes) live in functions of their own: a
 * deep chain `a + b + ...` then costs eval's small frame per level, also under AddressSanitizer
 * (which found the overflow: tests/fuzz/regress/graph/) */
static __attribute__((noinline)) gx_status eval_call_one(lower *L, scope *s,
                                                         const gx_ast_expr *x, ev *out) {
    ev res[MAX_RESULTS];
    int n = 0;
    gx_status st = eval_call(L, s, x, res, MAX_RESULTS, &n);
    if (st != GX_OK) return st;
    if (n != 1)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos,
                          "'%s' gives %d results; assign them with `a, b = %s(...)`", x->name, n,
                          x->name);
    *out = res[0];
    return GX_OK;
}

static __attribute__((noinline)) gx_status eval_index(lower *L, scope *s, const gx_ast_expr *x,
                                                      ev *out) {
    ev a, i;
    if (L->loop && x->n_args == 1 && x->args[0].value->kind == GX_EXPR_NAME &&
        strcmp(x->args[0].value->name, L->loop->ast->index) == 0) {
        /* seq[t]: this step's slice of a sequence of the loop */
        const gx_ast_loop *lp = L->loop->ast;
        for (int k = 0; x->lhs->kind == GX_EXPR_NAME && k < lp->n_seqs; k++)
            if (strcmp(lp->seqs[k]->name, x->lhs->name) == 0) {
                *out = (ev){.kind = EV_TENSOR, .val = L->loop->seq_cur[k]};
                return GX_OK;
            }
        return gx_diag_at(L->d, GX_ERR_INVALID, x->lhs->pos, "only the loop's sequences "
                          "can be indexed by '%s' (loop %s over ...)", lp->index, lp->index);
    }
    if (x->n_args != 1)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos,
                          "indexing takes one integer (x[i] selects along axis 0)");
    gx_status st = eval(L, s, x->lhs, &a);
    if (st == GX_OK) st = eval(L, s, x->args[0].value, &i);
    if (st != GX_OK) return st;
    if (a.kind != EV_TENSOR)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "only tensors can be indexed, found %s",
                          ev_kind_name(&a));
    if (i.kind != EV_NUMBER || !i.is_int)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->args[0].value->pos,
                          "an index must be an integer");
    gx_attr_kv kv[2] = {{.name = "axis", .value = {.type = GX_ATTR_INT, .i = 0}},
                        {.name = "i", .value = {.type = GX_ATTR_INT, .i = i.ival}}};
    gx_val y;
    st = emit_op(L, "index", &a.val, 1, kv, 2, x->pos, &y, 1, NULL);
    if (st != GX_OK) return st;
    *out = (ev){.kind = EV_TENSOR, .val = y};
    return GX_OK;
}

static gx_status eval(lower *L, scope *s, const gx_ast_expr *x, ev *out) {
    switch (x->kind) {
    case GX_EXPR_NUMBER:
        *out = x->is_int ? ev_int(x->ival) : ev_float(x->num);
        return GX_OK;
    case GX_EXPR_STRING:
        *out = (ev){.kind = EV_STRING, .str = x->str};
        return GX_OK;
    case GX_EXPR_NAME: return eval_name(L, s, x, out);
    case GX_EXPR_UNARY: {
        ev a;
        gx_status st = eval(L, s, x->lhs, &a);
        if (st != GX_OK) return st;
        if (a.kind == EV_NUMBER) {
            if (a.is_int && a.ival == INT64_MIN)
                return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "integer overflow in '-'");
            *out = a.is_int ? ev_int(-a.ival) : ev_float(-a.num);
            return GX_OK;
        }
        if (a.kind != EV_TENSOR)
            return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "cannot negate %s", ev_kind_name(&a));
        gx_val y;
        st = emit_op(L, "neg", &a.val, 1, NULL, 0, x->pos, &y, 1, NULL);
        if (st != GX_OK) return st;
        *out = (ev){.kind = EV_TENSOR, .val = y};
        return GX_OK;
    }
    case GX_EXPR_BINARY: return eval_binary(L, s, x, out);
    case GX_EXPR_CALL: return eval_call_one(L, s, x, out);
    case GX_EXPR_INDEX: return eval_index(L, s, x, out);
    case GX_EXPR_LOOP:
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos,
                          "a loop must be the whole right-hand side of an assignment");
    case GX_EXPR_LIST: {
        ev r = {.kind = EV_LIST};
        if (x->n_args > GX_MAX_DIMS)
            return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "a list holds at most %d integers",
                              GX_MAX_DIMS);
        for (int i = 0; i < x->n_args; i++) {
            gx_status st = eval_int(L, s, x->args[i].value, "a list item", &r.ints[i]);
            if (st != GX_OK) return st;
        }
        r.n_ints = x->n_args;
        *out = r;
        return GX_OK;
    }
    }
    return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "unknown expression");
}

/* ---- calls ---- */

static gx_status ev_to_attr(lower *L, const ev *e, gx_srcpos pos, const char *name,
                            gx_attr_value *out) {
    memset(out, 0, sizeof *out);
    switch (e->kind) {
    case EV_NUMBER:
        if (e->is_int) {
            out->type = GX_ATTR_INT;
            out->i = e->ival;
        } else {
            out->type = GX_ATTR_FLOAT;
            out->f = e->num;
        }
        return GX_OK;
    case EV_LIST:
        out->type = GX_ATTR_INTS;
        out->n_ints = e->n_ints;
        memcpy(out->ints, e->ints, sizeof out->ints);
        return GX_OK;
    case EV_STRING:
        out->type = GX_ATTR_STRING;
        out->s = e->str;
        return GX_OK;
    case EV_DTYPE:
        out->type = GX_ATTR_DTYPE;
        out->i = e->dtype;
        return GX_OK;
    case EV_TENSOR: break;
    }
    return gx_diag_at(L->d, GX_ERR_INVALID, pos,
                      "attribute '%s' must be a constant (number, list, string or dtype), found "
                      "a tensor", name);
}

static gx_status lower_stmts(lower *L, scope *s, gx_ast_stmt *const *stmts, int n,
                             const gx_ast_stmt **ret);

static uint32_t site_hash(uint32_t h, gx_srcpos pos) {
    h = gx_random_mix32(h ^ 0x85ebca6bu ^ (uint32_t)pos.line);
    return gx_random_mix32(h ^ (uint32_t)pos.col);
}

/* The run's random key, the i32[2] graph input "gx.rng" (seed, step), made on first use; zeros
 * unless the caller feeds it. Inside a looped body it is captured as an invariant. */
static gx_status rng_value(lower *L, gx_srcpos pos, gx_val *out) {
    gx_graph *root = L->loop ? L->loop->outer : L->g;
    const gx_named *n = gx_graph_find_named(root->inputs, root->n_inputs, GX_RNG_INPUT);
    gx_val v;
    if (n) v = n->val;
    else {
        gx_tensor_info info = {.dtype = GX_DTYPE_I32, .shape = {.ndim = 1, .dims = {2}}};
        gx_status st = gx_graph_add_input(root, GX_RNG_INPUT, info, pos, &v, L->d);
        if (st != GX_OK) return st;
        root->inputs[root->n_inputs - 1].zero_default = 1;
    }
    if (L->g != root) return capture(L, v, out);
    *out = v;
    return GX_OK;
}

static gx_status call_def(lower *L, scope *s, const gx_ast_expr *x, const gx_ast_stmt *def,
                          ev *outs, int max_out, int *n_out) {
    if (L->depth >= MAX_CALL_DEPTH)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos,
                          "def calls nested more than %d deep (is '%s' recursive?)",
                          MAX_CALL_DEPTH, def->name);
    int np = def->n_names;
    ev args[MAX_ARGS];
    int given[MAX_ARGS] = {0};
    if (np > MAX_ARGS) return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "too many parameters");
    int pos_i = 0;
    for (int i = 0; i < x->n_args; i++) {
        const gx_ast_arg *a = &x->args[i];
        int slot = -1;
        if (a->name == NULL) {
            slot = pos_i++;
            if (slot >= np)
                return gx_diag_at(L->d, GX_ERR_INVALID, a->pos, "'%s' takes %d argument%s, got %d",
                                  def->name, np, np == 1 ? "" : "s", x->n_args);
        } else {
            for (int k = 0; k < np; k++)
                if (strcmp(def->names[k], a->name) == 0) slot = k;
            if (slot < 0) {
                const char *near = gx_nearest_name(a->name, def->names, np);
                return gx_diag_at(L->d, GX_ERR_NOT_FOUND, a->pos, "'%s' has no parameter '%s'%s%s%s",
                                  def->name, a->name, near ? "; did you mean '" : "",
                                  near ? near : "", near ? "'?" : "");
            }
            if (given[slot])
                return gx_diag_at(L->d, GX_ERR_INVALID, a->pos, "parameter '%s' is given twice",
                                  a->name);
        }
        gx_status st = eval(L, s, a->value, &args[slot]);
        if (st != GX_OK) return st;
        given[slot] = 1;
    }
    for (int k = 0; k < np; k++)
        if (!given[k])
            return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "'%s' is missing argument '%s'",
                              def->name, def->names[k]);
    /* the body sees its parameters, then the globals (dims, params, other defs) */
    scope *global = s;
    while (global->parent) global = global->parent;
    scope inner = {.parent = global, .graph = L->g};
    gx_status st = GX_OK;
    for (int k = 0; k < np && st == GX_OK; k++) {
        sym y = {.name = def->names[k], .pos = def->names_pos[k]};
        if (args[k].kind == EV_TENSOR) {
            y.kind = SYM_VALUE;
            y.val = args[k].val;
        } else if (args[k].kind == EV_NUMBER && args[k].is_int) {
            y.kind = SYM_DIM;
            y.dim = args[k].ival;
        } else if (args[k].kind == EV_NUMBER) {
            /* stays a number, so it takes the dtype of whatever tensor it meets */
            y.kind = SYM_NUMBER;
            y.num = args[k].num;
        } else {
            st = gx_diag_at(L->d, GX_ERR_INVALID, x->args[k].pos,
                            "def arguments must be tensors or numbers, found %s",
                            ev_kind_name(&args[k]));
        }
        if (st == GX_OK) st = scope_add(L, &inner, y);
    }
    const gx_ast_stmt *ret = NULL;
    /* random ops inside take keys from the chain of call sites, so two calls of one def draw
     * different masks while every unrolled step of a loop body draws the same as looped */
    uint32_t outer_site = L->site;
    L->site = site_hash(L->site, x->pos);
    /* the depth stays raised while the return values are evaluated: they may call defs too */
    L->depth++;
    if (st == GX_OK) st = lower_stmts(L, &inner, def->body, def->n_body, &ret);
    if (st == GX_OK && ret == NULL)
        st = gx_diag_at(L->d, GX_ERR_INVALID, def->pos, "def '%s' has no return statement",
                        def->name);
    if (st == GX_OK && ret->n_values > max_out)
        st = gx_diag_at(L->d, GX_ERR_INVALID, ret->pos, "too many results");
    for (int i = 0; st == GX_OK && i < ret->n_values; i++) st = eval(L, &inner, ret->values[i], &outs[i]);
    L->depth--;
    L->site = outer_site;
    if (st == GX_OK) *n_out = ret->n_values;
    gx_free(inner.syms);
    return st;
}

static gx_status call_op(lower *L, scope *s, const gx_ast_expr *x, const gx_op *op, ev *outs,
                         int max_out, int *n_out) {
    const gx_op_desc *od = &op->desc;
    int max_in = od->max_inputs < 0 ? MAX_ARGS : od->max_inputs;
    if ((od->flags & GX_OP_RANDOM) && max_in > 0) max_in--;   /* the random key is not written */
    ev tensors[MAX_ARGS];
    gx_srcpos tpos[MAX_ARGS];
    int n_t = 0, n_pos_attrs = 0;
    gx_attr_kv kv[64];
    int n_kv = 0;
    gx_status st;
    if (x->n_args > MAX_ARGS)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "too many arguments");
    for (int i = 0; i < x->n_args; i++) {
        const gx_ast_arg *a = &x->args[i];
        ev e;
        st = eval(L, s, a->value, &e);
        if (st != GX_OK) return st;
        if (a->name == NULL && n_t < max_in && (e.kind == EV_TENSOR || e.kind == EV_NUMBER ||
                                                od->max_inputs < 0)) {
            tensors[n_t] = e;
            tpos[n_t++] = a->value->pos;
            continue;
        }
        const char *name = a->name;
        if (name == NULL && e.kind == EV_TENSOR) {
            int n_tensors = 0;
            for (int k = 0; k < x->n_args; k++) n_tensors += x->args[k].name == NULL;
            return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "'%s' takes %s%d input%s, got %d",
                              op->name, od->min_inputs == max_in ? "" : "at most ", max_in,
                              max_in == 1 ? "" : "s", n_tensors);
        }
        if (name == NULL) {
            /* positional arguments past the tensor inputs bind attributes in order */
            if (n_pos_attrs >= op->n_attrs)
                return gx_diag_at(L->d, GX_ERR_INVALID, a->value->pos,
                                  "'%s' takes at most %d input%s and %d attribute%s; too many "
                                  "arguments", op->name, max_in, max_in == 1 ? "" : "s",
                                  op->n_attrs, op->n_attrs == 1 ? "" : "s");
            name = od->attrs[n_pos_attrs++].name;
        }
        if (n_kv >= 64) return gx_diag_at(L->d, GX_ERR_INVALID, a->pos, "too many attributes");
        kv[n_kv].name = name;
        st = ev_to_attr(L, &e, a->value->pos, name, &kv[n_kv].value);
        if (st != GX_OK) return st;
        n_kv++;
    }
    /* literal inputs take the dtype of the first tensor input */
    gx_dtype dt = GX_DTYPE_F32;
    for (int i = 0; i < n_t; i++)
        if (tensors[i].kind == EV_TENSOR) {
            gx_dtype t = L->g->values[tensors[i].val].info.dtype;
            if (t != GX_DTYPE_I32) {
                dt = t;
                break;
            }
        }
    gx_val in[MAX_ARGS], res[MAX_RESULTS];
    for (int i = 0; i < n_t; i++) {
        if (tensors[i].kind != EV_TENSOR && tensors[i].kind != EV_NUMBER)
            return gx_diag_at(L->d, GX_ERR_INVALID, tpos[i], "input %d of '%s' must be a tensor, "
                              "found %s", i + 1, op->name, ev_kind_name(&tensors[i]));
        st = to_tensor(L, &tensors[i], dt, tpos[i], &in[i]);
        if (st != GX_OK) return st;
    }
    if ((od->flags & GX_OP_TRAIN_ONLY) && !L->train && n_t >= 1) {
        /* not training: the op is the identity on its first input */
        outs[0] = (ev){.kind = EV_TENSOR, .val = in[0]};
        *n_out = 1;
        return GX_OK;
    }
    if (od->flags & GX_OP_RANDOM) {
        for (int k = 0; k < n_kv; k++)
            if (strcmp(kv[k].name, "key") == 0)
                return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "'%s': the engine sets 'key'; "
                                  "do not give it", op->name);
        if (n_t >= MAX_ARGS || n_kv >= 64)
            return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "too many arguments");
        st = rng_value(L, x->pos, &in[n_t++]);
        if (st != GX_OK) return st;
        kv[n_kv++] = (gx_attr_kv){.name = "key",
                                  .value = {.type = GX_ATTR_INT,
                                            .i = (int64_t)(site_hash(L->site, x->pos) >> 1)}};
    }
    int32_t got = 0;
    st = emit_op(L, op->name, in, n_t, kv, n_kv, x->pos, res,
                 max_out < MAX_RESULTS ? max_out : MAX_RESULTS, &got);
    if (st != GX_OK) return st;
    for (int j = 0; j < got; j++) outs[j] = (ev){.kind = EV_TENSOR, .val = res[j]};
    *n_out = got;
    return GX_OK;
}

static gx_status eval_call(lower *L, scope *s, const gx_ast_expr *x, ev *outs, int max_out,
                           int *n_out) {
    sym *y = scope_find(s, x->name);
    if (y && y->kind == SYM_DEF) return call_def(L, s, x, y->def, outs, max_out, n_out);
    if (y)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "'%s' is not a function", x->name);
    const gx_op *op = gx_registry_find_op(L->g->reg, x->name);
    if (op == NULL) return unknown_name(L, s, x->pos, "op", x->name, 1);
    return call_op(L, s, x, op, outs, max_out, n_out);
}


/* ---- loop expressions ---- */

static gx_status lower_stmts(lower *L, scope *s, gx_ast_stmt *const *stmts, int n,
                             const gx_ast_stmt **ret);

/* x[:, t] of a [B, T, ...] value in the current graph: index(x, axis, t) */
static gx_status emit_index(lower *L, gx_val x, int32_t axis, int64_t t, gx_srcpos pos, gx_val *out) {
    gx_attr_kv kv[2] = {{.name = "axis", .value = {.type = GX_ATTR_INT, .i = axis}},
                        {.name = "i", .value = {.type = GX_ATTR_INT, .i = t}}};
    return emit_op(L, "index", &x, 1, kv, 2, pos, out, 1, NULL);
}

/* m [B] reshaped to broadcast against a value of rank r: [B, 1, ..., 1] */
static gx_status mask_for(lower *L, gx_val m, const gx_tensor_info *like, gx_srcpos pos, gx_val *out) {
    const gx_tensor_info *mi = &L->g->values[m].info;
    if (mi->dtype != like->dtype)
        return gx_diag_at(L->d, GX_ERR_DTYPE, pos, "the loop's mask must be %s like the values it "
                          "masks, not %s", gx_dtype_name(like->dtype), gx_dtype_name(mi->dtype));
    if (mi->shape.ndim != 1 || like->shape.ndim < 1 || like->shape.dims[0] != mi->shape.dims[0]) {
        char a1[128], a2[128];
        return gx_diag_at(L->d, GX_ERR_SHAPE, pos, "a step of the loop's mask is %s; it must be "
                          "[B] for values of shape %s", gx_shape_str(&mi->shape, a1, sizeof a1),
                          gx_shape_str(&like->shape, a2, sizeof a2));
    }
    gx_attr_kv kv = {.name = "shape", .value = {.type = GX_ATTR_INTS, .n_ints = like->shape.ndim}};
    kv.value.ints[0] = mi->shape.dims[0];
    for (int i = 1; i < like->shape.ndim; i++) kv.value.ints[i] = 1;
    return emit_op(L, "reshape", &m, 1, &kv, 1, pos, out, 1, NULL);
}

/* One step of the body, in L->g: carries in `carry` (updated in place), slices set in the
 * loop context; the step's yields go to `yields`. With a mask slice m_t, rows whose mask is 0
 * keep their carries and yield zeros (padding past a sequence's end). */
static gx_status lower_step(lower *L, scope *outer_scope, const gx_ast_loop *lp, gx_val *carry,
                            gx_val mask_t, gx_val *yields) {
    scope inner = {.parent = outer_scope, .graph = L->g};
    gx_status st = GX_OK;
    for (int k = 0; k < lp->n_carry && st == GX_OK; k++) {
        gx_status s2 = name_value_if_unnamed(L, carry[k], lp->carry_names[k]);
        if (s2 != GX_OK) st = s2;
        else st = scope_add(L, &inner, (sym){.name = lp->carry_names[k], .kind = SYM_VALUE,
                                             .val = carry[k], .pos = lp->carry_pos[k]});
    }
    if (st == GX_OK) st = lower_stmts(L, &inner, lp->body, lp->n_body, NULL);
    gx_val *next = gx_malloc(sizeof(gx_val) * (size_t)(lp->n_carry + 1));
    if (next == NULL) st = gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
    for (int k = 0; k < lp->n_carry && st == GX_OK; k++) {
        sym *y = scope_find_local(&inner, lp->carry_names[k]);
        if (y == NULL || y->kind != SYM_VALUE) {
            st = gx_diag_at(L->d, GX_ERR_INVALID, lp->carry_pos[k], "carry '%s' must stay a tensor",
                            lp->carry_names[k]);
            break;
        }
        next[k] = y->val;
        const gx_tensor_info *ci = &L->g->values[carry[k]].info, *ni = &L->g->values[next[k]].info;
        int same = ci->dtype == ni->dtype && ci->shape.ndim == ni->shape.ndim;
        for (int q = 0; same && q < ci->shape.ndim; q++) same = ci->shape.dims[q] == ni->shape.dims[q];
        if (!same) {
            char a1[128], a2[128];
            st = gx_diag_at(L->d, GX_ERR_SHAPE, lp->carry_pos[k], "carry '%s' starts as %s%s but the "
                            "body makes it %s%s; a carry must keep its type", lp->carry_names[k],
                            gx_dtype_name(ci->dtype), gx_shape_str(&ci->shape, a1, sizeof a1),
                            gx_dtype_name(ni->dtype), gx_shape_str(&ni->shape, a2, sizeof a2));
            break;
        }
        if (mask_t != GX_VAL_NONE) {
            gx_val m, in[3];
            st = mask_for(L, mask_t, &L->g->values[carry[k]].info, lp->carry_pos[k], &m);
            in[0] = m;
            in[1] = next[k];
            in[2] = carry[k];
            if (st == GX_OK) st = emit_op(L, "where", in, 3, NULL, 0, lp->carry_pos[k], &next[k], 1, NULL);
        }
    }
    for (int j = 0; j < lp->n_yield && st == GX_OK; j++) {
        ev e;
        st = eval(L, &inner, lp->yields[j], &e);
        if (st == GX_OK && e.kind != EV_TENSOR)
            st = gx_diag_at(L->d, GX_ERR_INVALID, lp->yields[j]->pos, "a loop yields tensors, "
                            "not %s", ev_kind_name(&e));
        if (st != GX_OK) break;
        yields[j] = e.val;
        if (mask_t != GX_VAL_NONE) {
            gx_val m, in[2];
            st = mask_for(L, mask_t, &L->g->values[yields[j]].info, lp->yields[j]->pos, &m);
            in[0] = yields[j];
            in[1] = m;
            if (st == GX_OK) st = emit_op(L, "mul", in, 2, NULL, 0, lp->yields[j]->pos, &yields[j], 1, NULL);
        }
    }
    for (int k = 0; k < lp->n_carry && st == GX_OK; k++) carry[k] = next[k];
    gx_free(next);
    gx_free(inner.syms);
    return st;
}

/* A graph input that starts a carry is a state a stream continues: remember the carry's final
 * value as its `next`, so a trainer can feed it back as the next chunk's start. */
static void link_states(lower *L, const gx_val *inits, const gx_val *finals, int n) {
    for (int k = 0; k < n; k++)
        for (int32_t i = 0; i < L->g->n_inputs; i++)
            if (L->g->inputs[i].val == inits[k] && L->g->inputs[i].next == GX_VAL_NONE)
                L->g->inputs[i].next = finals[k];
}

static gx_status lower_loop(lower *L, scope *s, const gx_ast_expr *x, ev *outs, int max_out,
                            int *n_out) {
    const gx_ast_loop *lp = x->loop;
    if (L->loop)
        return gx_diag_at(L->d, GX_ERR_UNSUPPORTED, x->pos, "loops cannot be nested");
    int n_seq = lp->n_seqs + (lp->mask != NULL);
    int n_res = lp->n_yield + lp->n_carry;
    if (n_res > max_out)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "a loop gives at most %d results", max_out);
    gx_val seqs[MAX_ARGS + 1], inits[MAX_ARGS], carry[MAX_ARGS], yields[MAX_ARGS];
    int32_t axes[MAX_ARGS + 1];
    if (n_seq > MAX_ARGS || lp->n_carry > MAX_ARGS || lp->n_yield > MAX_ARGS)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "too many sequences, carries or yields");
    int64_t axis = 1;
    gx_status st = GX_OK;
    if (lp->axis) st = eval_int(L, s, lp->axis, "the loop's axis", &axis);
    /* sequences (and the mask, sliced like one) in the outer graph */
    int64_t T = -1;
    for (int k = 0; k < n_seq && st == GX_OK; k++) {
        const gx_ast_expr *se = k < lp->n_seqs ? lp->seqs[k] : lp->mask;
        if (k < lp->n_seqs && se->kind != GX_EXPR_NAME)
            return gx_diag_at(L->d, GX_ERR_INVALID, se->pos, "a loop runs over named sequences "
                              "(name the expression first: x = ...; loop t over x)");
        ev e;
        st = eval(L, s, se, &e);
        if (st != GX_OK) return st;
        if (e.kind != EV_TENSOR)
            return gx_diag_at(L->d, GX_ERR_INVALID, se->pos, "a loop sequence must be a tensor");
        seqs[k] = e.val;
        const gx_shape *sh = &L->g->values[e.val].info.shape;
        int64_t a = axis < 0 ? axis + sh->ndim : axis;
        if (a < 0 || a >= sh->ndim) {
            char b1[128];
            return gx_diag_at(L->d, GX_ERR_SHAPE, se->pos, "%s of shape %s has no time axis %lld",
                              k < lp->n_seqs ? "a sequence" : "the mask",
                              gx_shape_str(sh, b1, sizeof b1), (long long)axis);
        }
        axes[k] = (int32_t)a;
        if (T < 0) T = sh->dims[a];
        else if (sh->dims[a] != T)
            return gx_diag_at(L->d, GX_ERR_SHAPE, se->pos, "%s has %lld steps, the first sequence "
                              "%lld", k < lp->n_seqs ? "this sequence" : "the mask",
                              (long long)sh->dims[a], (long long)T);
    }
    for (int k = 0; k < lp->n_carry && st == GX_OK; k++) {
        ev e;
        st = eval(L, s, lp->carry_inits[k], &e);
        if (st == GX_OK && e.kind != EV_TENSOR)
            st = gx_diag_at(L->d, GX_ERR_INVALID, lp->carry_inits[k]->pos, "carry '%s' must start "
                            "from a tensor (a state, an input or a computed value)", lp->carry_names[k]);
        if (st == GX_OK) inits[k] = carry[k] = e.val;
    }
    if (st != GX_OK) return st;
    loop_ctx c = {.ast = lp, .outer = L->g, .n_seq = lp->n_seqs};
    gx_val cur[MAX_ARGS + 1];
    c.seq_cur = cur;

    if (T > GX_MAX_LOOP_STEPS)
        return gx_diag_at(L->d, GX_ERR_SHAPE, x->pos, "a loop of %lld steps is more than the %d "
                          "a loop may run", (long long)T, GX_MAX_LOOP_STEPS);
    if (L->unroll) {
        /* a time axis of 10^8 (one dim in the file) must be an error, not hours of unrolling
         * and every byte of memory: looped, the same loop costs one body */
        if (T > GX_MAX_UNROLL_STEPS)
            return gx_diag_at(L->d, GX_ERR_SHAPE, x->pos, "cannot unroll a loop of %lld steps (at "
                              "most %d; run it looped instead)", (long long)T, GX_MAX_UNROLL_STEPS);
        /* the body once per step, in this graph; the yields stacked with concat */
        gx_val *steps = gx_malloc(sizeof(gx_val) * (size_t)(T * (lp->n_yield ? lp->n_yield : 1) + 1));
        if (steps == NULL) return gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
        L->loop = &c;
        for (int64_t i = 0; i < T && st == GX_OK; i++) {
            int64_t t = lp->reverse ? T - 1 - i : i;
            gx_val mask_t = GX_VAL_NONE;
            for (int k = 0; k < n_seq && st == GX_OK; k++)
                st = emit_index(L, seqs[k], axes[k], t, x->pos, k < lp->n_seqs ? &cur[k] : &mask_t);
            if (st == GX_OK) st = lower_step(L, s, lp, carry, mask_t, yields);
            for (int j = 0; j < lp->n_yield && st == GX_OK; j++) {
                /* room for the time axis, then concat in time order */
                const gx_shape *ys = &L->g->values[yields[j]].info.shape;
                if (axes[0] > ys->ndim || ys->ndim >= GX_MAX_DIMS) {
                    st = gx_diag_at(L->d, GX_ERR_SHAPE, lp->yields[j]->pos, "yield %d has rank %d: "
                                    "it cannot be stacked on axis %d", j + 1, (int)ys->ndim, axes[0]);
                    break;
                }
                gx_attr_kv kv = {.name = "shape", .value = {.type = GX_ATTR_INTS, .n_ints = ys->ndim + 1}};
                for (int q = 0, r = 0; q < ys->ndim + 1; q++)
                    kv.value.ints[q] = q == axes[0] ? 1 : ys->dims[r++];
                st = emit_op(L, "reshape", &yields[j], 1, &kv, 1, lp->yields[j]->pos,
                             &steps[t * lp->n_yield + j], 1, NULL);
            }
        }
        L->loop = NULL;
        for (int j = 0; j < lp->n_yield && st == GX_OK; j++) {
            gx_val *parts = gx_malloc(sizeof(gx_val) * (size_t)(T + 1));
            if (parts == NULL) {
                st = gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
                break;
            }
            for (int64_t t = 0; t < T; t++) parts[t] = steps[t * lp->n_yield + j];
            gx_attr_kv kv = {.name = "axis", .value = {.type = GX_ATTR_INT, .i = axes[0]}};
            if (T > 0) st = emit_op(L, "concat", parts, (int)T, &kv, 1, lp->yield_pos, &yields[j], 1, NULL);
            else st = gx_diag_at(L->d, GX_ERR_SHAPE, x->pos, "cannot unroll a loop of 0 steps");
            gx_free(parts);
        }
        gx_free(steps);
        for (int j = 0; j < lp->n_yield && st == GX_OK; j++) outs[j] = (ev){.kind = EV_TENSOR, .val = yields[j]};
        for (int k = 0; k < lp->n_carry && st == GX_OK; k++)
            outs[lp->n_yield + k] = (ev){.kind = EV_TENSOR, .val = carry[k]};
        if (st == GX_OK) {
            link_states(L, inits, carry, lp->n_carry);
            *n_out = n_res;
        }
        return st;
    }

    /* looped: one body graph; outer values it uses become invariants */
    gx_loop *l = gx_loop_new();
    gx_graph *body = gx_graph_new(L->g->reg);
    if (l == NULL || body == NULL) {
        gx_loop_free(l);
        gx_graph_free(body);
        return gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
    }
    l->body = body;
    body->name = "loop body";
    l->reverse = lp->reverse;
    l->n_carry = lp->n_carry;
    l->n_seq = n_seq;
    l->n_yield = lp->n_yield;
    l->carry_in = gx_malloc(sizeof(gx_val) * (size_t)(lp->n_carry + 1));
    l->carry_out = gx_malloc(sizeof(gx_val) * (size_t)(lp->n_carry + 1));
    l->seq_in = gx_malloc(sizeof(gx_val) * (size_t)(n_seq + 1));
    l->seq_axis = gx_malloc(sizeof(int32_t) * (size_t)(n_seq + 1));
    l->yield_out = gx_malloc(sizeof(gx_val) * (size_t)(lp->n_yield + 1));
    l->yield_axis = gx_malloc(sizeof(int32_t) * (size_t)(lp->n_yield + 1));
    if (!l->carry_in || !l->carry_out || !l->seq_in || !l->seq_axis || !l->yield_out || !l->yield_axis)
        st = gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
    gx_graph *outer = L->g;
    for (int k = 0; k < lp->n_carry && st == GX_OK; k++) {
        st = gx_graph_add_input(body, lp->carry_names[k], outer->values[inits[k]].info,
                                lp->carry_pos[k], &l->carry_in[k], L->d);
        carry[k] = l->carry_in[k];
    }
    gx_val mask_t = GX_VAL_NONE;
    for (int k = 0; k < n_seq && st == GX_OK; k++) {
        gx_tensor_info si = outer->values[seqs[k]].info;
        for (int q = axes[k]; q + 1 < si.shape.ndim; q++) si.shape.dims[q] = si.shape.dims[q + 1];
        si.shape.ndim--;
        const char *nm = k < lp->n_seqs ? lp->seqs[k]->name : "mask";
        st = gx_graph_add_input(body, nm, si, k < lp->n_seqs ? lp->seqs[k]->pos : lp->mask->pos,
                                &l->seq_in[k], L->d);
        l->seq_axis[k] = axes[k];
        if (k < lp->n_seqs) cur[k] = l->seq_in[k];
        else mask_t = l->seq_in[k];
    }
    if (st == GX_OK) {
        L->g = body;
        L->loop = &c;
        st = lower_step(L, s, lp, carry, mask_t, yields);
        L->loop = NULL;
        L->g = outer;
    }
    for (int k = 0; l->carry_out && k < lp->n_carry; k++) l->carry_out[k] = carry[k];
    for (int j = 0; l->yield_out && l->yield_axis && j < lp->n_yield; j++) {
        l->yield_out[j] = yields[j];
        l->yield_axis[j] = axes[0];
    }
    l->n_inv = c.n_cap;
    l->inv_in = c.cap_body;
    c.cap_body = NULL;
    gx_val *in = gx_malloc(sizeof(gx_val) * (size_t)(lp->n_carry + n_seq + c.n_cap + 1));
    gx_val *res = gx_malloc(sizeof(gx_val) * (size_t)(n_res + 1));
    if (st == GX_OK && (!in || !res)) st = gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
    if (st == GX_OK) {
        int32_t w = 0;
        for (int k = 0; k < lp->n_carry; k++) in[w++] = inits[k];
        for (int k = 0; k < n_seq; k++) in[w++] = seqs[k];
        for (int k = 0; k < c.n_cap; k++) in[w++] = c.cap_outer[k];
        st = gx_hoist_loop(outer, l, &in, L->d);
        gx_probe_plan taps = {0};
        int diag = L->diag && outer == L->top;
        if (st == GX_OK && diag) st = gx_probes_loop(outer, l, &in, outer->n_nodes, &taps, L->d);
        /* the taps' yields come after the loop's own, before its carries */
        int32_t n_tap = l->n_yield - lp->n_yield;
        gx_val *all = n_tap ? gx_malloc(sizeof(gx_val) * (size_t)(n_res + n_tap + 1)) : res;
        if (all == NULL && st == GX_OK) st = gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
        if (st == GX_OK) st = gx_graph_add_loop(outer, l, in, x->pos, all, L->d);
        if (diag) {
            gx_status ts = gx_probes_loop_added(outer, outer->n_nodes - 1, st == GX_OK ? all : NULL,
                                                &taps, L->d);
            if (st == GX_OK) st = ts;
        }
        if (all && all != res) {
            if (st == GX_OK) {
                for (int j = 0; j < lp->n_yield; j++) res[j] = all[j];
                for (int k = 0; k < lp->n_carry; k++) res[lp->n_yield + k] = all[l->n_yield + k];
            }
            gx_free(all);
        }
    }
    if (st == GX_OK) {
        for (int j = 0; j < n_res; j++) outs[j] = (ev){.kind = EV_TENSOR, .val = res[j]};
        link_states(L, inits, res + lp->n_yield, lp->n_carry);
        *n_out = n_res;
    } else {
        gx_loop_free(l);
    }
    gx_free(in);
    gx_free(res);
    gx_free(c.cap_outer);
    gx_free(c.cap_body);
    return st;
}

/* ---- statements ---- */

static gx_status eval_type(lower *L, scope *s, const gx_ast_type *t, const char *name,
                           gx_tensor_info *out) {
    out->dtype = gx_dtype_from_name(t->dtype);
    if (out->dtype == GX_DTYPE_INVALID) {
        static const char *const names[] = {"f32", "f64", "i32"};
        const char *near = gx_nearest_name(t->dtype, names, 3);
        return gx_diag_at(L->d, GX_ERR_DTYPE, t->dtype_pos, "unknown dtype '%s'%s%s%s (gexec has "
                          "f32, f64, i32)", t->dtype, near ? "; did you mean '" : "",
                          near ? near : "", near ? "'?" : "");
    }
    if (t->n_dims > GX_MAX_DIMS)
        return gx_diag_at(L->d, GX_ERR_SHAPE, t->dtype_pos, "'%s' has %d dims; at most %d", name,
                          t->n_dims, GX_MAX_DIMS);
    out->shape.ndim = t->n_dims;
    int64_t numel = 1;
    for (int i = 0; i < t->n_dims; i++) {
        gx_status st = eval_int(L, s, t->dims[i], "a dimension", &out->shape.dims[i]);
        if (st != GX_OK) return st;
        if (out->shape.dims[i] < 0)
            return gx_diag_at(L->d, GX_ERR_SHAPE, t->dims[i]->pos,
                              "dimension %d of '%s' is negative (%lld)", i, name,
                              (long long)out->shape.dims[i]);
        if (mul_overflows(numel, out->shape.dims[i]) ||
            (numel *= out->shape.dims[i]) > ((int64_t)1 << 40))
            return gx_diag_at(L->d, GX_ERR_SHAPE, t->dims[i]->pos, "'%s' is too large", name);
    }
    return GX_OK;
}

typedef struct init_scheme {
    const char    *name;
    gx_init_scheme scheme;
    const char    *arg0, *arg1;
    double         dflt0, dflt1;
    int            required;   /* how many leading args are required */
} init_scheme;

static const init_scheme init_schemes[] = {
    {"zeros", GX_INIT_ZEROS, NULL, NULL, 0, 0, 0},
    {"ones", GX_INIT_ONES, NULL, NULL, 0, 0, 0},
    {"constant", GX_INIT_CONSTANT, "value", NULL, 0, 0, 1},
    {"normal", GX_INIT_NORMAL, "mean", "std", 0, 1, 0},
    {"uniform", GX_INIT_UNIFORM, "low", "high", -1, 1, 0},
    {"xavier", GX_INIT_XAVIER, "gain", NULL, 1, 0, 0},
    {"xavier_normal", GX_INIT_XAVIER_NORMAL, "gain", NULL, 1, 0, 0},
    {"kaiming", GX_INIT_KAIMING, "a", NULL, 0, 0, 0},
    {"kaiming_normal", GX_INIT_KAIMING_NORMAL, "a", NULL, 0, 0, 0},
    {"orthogonal", GX_INIT_ORTHOGONAL, "gain", NULL, 1, 0, 0},
    {"lstm_bias", GX_INIT_LSTM_BIAS, "forget", NULL, 1, 0, 0},
};

static gx_status eval_init(lower *L, scope *s, const gx_ast_stmt *st_, gx_init *out) {
    const gx_ast_expr *x = st_->init;
    if (x == NULL)
        return gx_diag_at(L->d, GX_ERR_INVALID, st_->name_pos,
                          "param '%s' needs an init scheme, e.g. `init xavier` or `init zeros`",
                          st_->name);
    if (x->kind != GX_EXPR_NAME && x->kind != GX_EXPR_CALL)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos,
                          "expected an init scheme such as xavier or normal(0, 0.1)");
    const init_scheme *sc = NULL;
    int n_sc = (int)(sizeof init_schemes / sizeof init_schemes[0]);
    for (int i = 0; i < n_sc; i++)
        if (strcmp(init_schemes[i].name, x->name) == 0) sc = &init_schemes[i];
    if (sc == NULL) {
        const char *names[16];
        for (int i = 0; i < n_sc; i++) names[i] = init_schemes[i].name;
        const char *near = gx_nearest_name(x->name, names, n_sc);
        return gx_diag_at(L->d, GX_ERR_NOT_FOUND, x->pos, "unknown init scheme '%s'%s%s%s",
                          x->name, near ? "; did you mean '" : "", near ? near : "",
                          near ? "'?" : "");
    }
    double v[2] = {sc->dflt0, sc->dflt1};
    int given[2] = {0, 0};
    const char *argn[2] = {sc->arg0, sc->arg1};
    int n_args_max = (sc->arg0 != NULL) + (sc->arg1 != NULL);
    int pos_i = 0;
    for (int i = 0; x->kind == GX_EXPR_CALL && i < x->n_args; i++) {
        const gx_ast_arg *a = &x->args[i];
        int slot = -1;
        if (a->name == NULL) slot = pos_i++;
        else
            for (int k = 0; k < n_args_max; k++)
                if (strcmp(argn[k], a->name) == 0) slot = k;
        if (slot < 0 && a->name)
            return gx_diag_at(L->d, GX_ERR_INVALID, a->pos, "init '%s' has no argument '%s'",
                              sc->name, a->name);
        if (slot < 0 || slot >= n_args_max)
            return gx_diag_at(L->d, GX_ERR_INVALID, a->pos, "init '%s' takes %d argument%s",
                              sc->name, n_args_max, n_args_max == 1 ? "" : "s");
        ev e;
        gx_status st = eval(L, s, a->value, &e);
        if (st != GX_OK) return st;
        if (e.kind != EV_NUMBER)
            return gx_diag_at(L->d, GX_ERR_INVALID, a->value->pos,
                              "init arguments must be numbers, found %s", ev_kind_name(&e));
        v[slot] = e.num;
        given[slot] = 1;
    }
    for (int k = 0; k < sc->required; k++)
        if (!given[k])
            return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "init '%s' needs argument '%s'",
                              sc->name, argn[k]);
    if (sc->scheme == GX_INIT_NORMAL && v[1] < 0)
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "normal: std must be >= 0");
    if (sc->scheme == GX_INIT_UNIFORM && v[1] < v[0])
        return gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "uniform: high must be >= low");
    out->scheme = sc->scheme;
    out->a = v[0];
    out->b = v[1];
    return GX_OK;
}

static gx_status name_value_if_unnamed(lower *L, gx_val v, const char *name) {
    gx_value *val = &L->g->values[v];
    if (val->name == NULL) {
        val->name = gx_arena_strdup(&L->g->arena, name);
        if (val->name == NULL) return gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
    }
    return GX_OK;
}

static gx_status bind_value(lower *L, scope *s, const char *name, gx_srcpos pos, gx_val v) {
    sym *old = scope_find_local(s, name);
    if (old && old->fixed)
        return gx_diag_at(L->d, GX_ERR_INVALID, pos, "cannot assign to '%s': it is %s declared "
                          "at %d:%d", name, old->kind == SYM_VALUE ? "an input or param" : "a dim",
                          (int)old->pos.line, (int)old->pos.col);
    if (old && old->kind == SYM_DEF)
        return gx_diag_at(L->d, GX_ERR_INVALID, pos, "cannot assign to '%s': it is a def", name);
    gx_status st = name_value_if_unnamed(L, v, name);
    if (st != GX_OK) return st;
    return scope_add(L, s, (sym){.name = name, .kind = SYM_VALUE, .val = v, .pos = pos});
}

static gx_status lower_assign(lower *L, scope *s, const gx_ast_stmt *a) {
    ev res[MAX_RESULTS];
    int n = 1;
    gx_status st;
    if (a->value->kind == GX_EXPR_CALL) st = eval_call(L, s, a->value, res, MAX_RESULTS, &n);
    else if (a->value->kind == GX_EXPR_LOOP) st = lower_loop(L, s, a->value, res, MAX_RESULTS, &n);
    else st = eval(L, s, a->value, &res[0]);
    if (st != GX_OK) return st;
    if (a->value->kind == GX_EXPR_LOOP && a->n_names == a->value->loop->n_yield)
        n = a->n_names; /* `hs = loop ...`: the final carries are not wanted */
    if (n != a->n_names)
        return gx_diag_at(L->d, GX_ERR_INVALID, a->pos, "%d name%s on the left, but the right "
                          "side gives %d result%s", a->n_names, a->n_names == 1 ? "" : "s", n,
                          n == 1 ? "" : "s");
    for (int i = 0; i < n; i++) {
        if (res[i].kind == EV_NUMBER) {
            /* `k = 2 * H` is dim arithmetic, `eps = 1e-5` a number: they stay numbers */
            sym *old = scope_find_local(s, a->names[i]);
            if (old && old->fixed)
                return gx_diag_at(L->d, GX_ERR_INVALID, a->names_pos[i], "cannot assign to '%s'",
                                  a->names[i]);
            st = scope_add(L, s, (sym){.name = a->names[i],
                                       .kind = res[i].is_int ? SYM_DIM : SYM_NUMBER,
                                       .dim = res[i].ival, .num = res[i].num,
                                       .pos = a->names_pos[i]});
            if (st != GX_OK) return st;
            continue;
        }
        if (res[i].kind != EV_TENSOR)
            return gx_diag_at(L->d, GX_ERR_INVALID, a->value->pos,
                              "the right side is %s; only tensors and numbers can be named",
                              ev_kind_name(&res[i]));
        st = bind_value(L, s, a->names[i], a->names_pos[i], res[i].val);
        if (st != GX_OK) return st;
        if (a->probe) {
            gx_value *v = &L->g->values[res[i].val];
            v->probe = gx_arena_strdup(&L->g->arena, a->probe);
            if (v->probe == NULL) return gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
        }
    }
    return GX_OK;
}

static const gx_dim_binding *find_binding(lower *L, const char *name) {
    for (int i = 0; i < L->n_binds; i++)
        if (strcmp(L->binds[i].name, name) == 0) return &L->binds[i];
    return NULL;
}


/* state NAME : T = 0 | input | param init S: an initial state for a loop's carry */
static gx_status lower_stmt(lower *L, scope *s, const gx_ast_stmt *a, int global);

static gx_status lower_state(lower *L, scope *s, const gx_ast_stmt *a) {
    if (scope_find_local(s, a->name))
        return gx_diag_at(L->d, GX_ERR_INVALID, a->name_pos, "'%s' is already defined", a->name);
    gx_tensor_info info;
    gx_status st = eval_type(L, s, &a->type, a->name, &info);
    if (st != GX_OK) return st;
    if (info.dtype == GX_DTYPE_I32)
        return gx_diag_at(L->d, GX_ERR_DTYPE, a->type.dtype_pos, "state '%s' must be f32 or f64",
                          a->name);
    gx_val v;
    if (a->state_kind == GX_STATE_PARAM) {
        gx_init init;
        st = eval_init(L, s, a, &init);
        if (st == GX_OK) st = gx_graph_add_param(L->g, a->name, info, init, a->name_pos, &v, L->d);
    } else {
        st = gx_graph_add_input(L->g, a->name, info, a->name_pos, &v, L->d);
        /* `= 0`: zeros unless the caller feeds it (a stream's state from the last chunk) */
        if (st == GX_OK && a->state_kind == GX_STATE_ZEROS)
            L->g->inputs[L->g->n_inputs - 1].zero_default = 1;
    }
    if (st != GX_OK) return st;
    return scope_add(L, s, (sym){.name = a->name, .kind = SYM_VALUE, .val = v, .pos = a->name_pos,
                                 .fixed = 1});
}

/* import "file.graph": the file's defs become visible; the path is relative to the importing
 * file. Imported files may hold only defs and further imports. */
static gx_status lower_import(lower *L, scope *s, const gx_ast_stmt *a) {
    if (L->import_depth >= 16)
        return gx_diag_at(L->d, GX_ERR_INVALID, a->pos, "imports nested more than 16 deep (does "
                          "a file import itself?)");
    char path[4096];
    const char *slash = strrchr(a->pos.file, '/');
    if (a->path[0] == '/' || slash == NULL)
        snprintf(path, sizeof path, "%s", a->path);
    else
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - a->pos.file), a->pos.file, a->path);
    for (int32_t i = 0; i < L->n_imports; i++)
        if (strcmp(L->imports[i]->file, path) == 0) return GX_OK; /* already imported */
    char *src;
    size_t n;
    gx_diag local;
    gx_diag_init(&local);
    if (gx_read_file(path, &src, &n, &local) != GX_OK)
        return gx_diag_at(L->d, GX_ERR_IO, a->pos, "cannot import '%s': %s", a->path,
                          local.msg + strlen("error: "));
    gx_ast_module *m = NULL;
    gx_status st = gx_parse(src, n, path, &m, L->d);
    gx_free(src);
    if (st != GX_OK) return st;
    gx_ast_module **im = gx_grow(L->imports, &L->cap_imports, L->n_imports + 1, sizeof *im);
    if (im == NULL) {
        gx_ast_free(m);
        return gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
    }
    L->imports = im;
    L->imports[L->n_imports++] = m;
    L->import_depth++;
    for (int i = 0; i < m->n_stmts && st == GX_OK; i++) {
        const gx_ast_stmt *x = m->stmts[i];
        if (x->kind == GX_STMT_DEF || x->kind == GX_STMT_IMPORT) st = lower_stmt(L, s, x, 1);
        else st = gx_diag_at(L->d, GX_ERR_INVALID, x->pos, "an imported file may only hold defs "
                             "and imports");
    }
    L->import_depth--;
    return st;
}

static gx_status lower_stmt(lower *L, scope *s, const gx_ast_stmt *a, int global) {
    gx_status st = GX_OK;
    gx_graph *g = L->g;
    if (!global && a->kind != GX_STMT_ASSIGN && a->kind != GX_STMT_RETURN)
        return gx_diag_at(L->d, GX_ERR_INVALID, a->pos, "only assignments and return are "
                          "allowed inside a def");
    switch (a->kind) {
    case GX_STMT_GRAPH:
        for (int i = 0; i < a->n_names; i++) {
            static const char *const known[] = {"unroll"};
            if (strcmp(a->names[i], "unroll") != 0) {
                const char *near = gx_nearest_name(a->names[i], known, 1);
                return gx_diag_at(L->d, GX_ERR_NOT_FOUND, a->names_pos[i], "unknown graph "
                                  "attribute '%s'%s%s%s (known: unroll)", a->names[i],
                                  near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
            }
            int64_t v;
            gx_status st2 = eval_int(L, s, a->values[i], "unroll", &v);
            if (st2 != GX_OK) return st2;
            if (v != 0 && v != 1)
                return gx_diag_at(L->d, GX_ERR_INVALID, a->values[i]->pos, "unroll must be 0 or 1");
        }
        if (L->graph_stmt.line)
            return gx_diag_at(L->d, GX_ERR_INVALID, a->pos, "the graph is already named at %d:%d",
                              (int)L->graph_stmt.line, (int)L->graph_stmt.col);
        L->graph_stmt = a->pos;
        g->name = gx_arena_strdup(&g->arena, a->name);
        return g->name ? GX_OK : gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
    case GX_STMT_DIM: {
        if (scope_find_local(s, a->name))
            return gx_diag_at(L->d, GX_ERR_INVALID, a->name_pos, "'%s' is already defined",
                              a->name);
        const gx_dim_binding *b = find_binding(L, a->name);
        sym y = {.name = a->name, .kind = SYM_DIM, .pos = a->name_pos, .fixed = 1};
        if (b) y.dim = b->value;
        else if (a->value) {
            st = eval_int(L, s, a->value, "a dim", &y.dim);
            if (st != GX_OK) return st;
        } else y.kind = SYM_UNBOUND_DIM;
        if (y.kind == SYM_DIM && y.dim < 0)
            return gx_diag_at(L->d, GX_ERR_INVALID, a->name_pos, "dim '%s' is negative (%lld)",
                              a->name, (long long)y.dim);
        if (y.kind == SYM_DIM && gx_graph_add_dim(g, a->name, y.dim, a->name_pos) != GX_OK)
            return gx_diag_set(L->d, GX_ERR_NOMEM, "out of memory");
        return scope_add(L, s, y);
    }
    case GX_STMT_INPUT:
    case GX_STMT_PARAM: {
        if (scope_find_local(s, a->name))
            return gx_diag_at(L->d, GX_ERR_INVALID, a->name_pos, "'%s' is already defined",
                              a->name);
        gx_tensor_info info;
        st = eval_type(L, s, &a->type, a->name, &info);
        if (st != GX_OK) return st;
        gx_val v;
        if (a->kind == GX_STMT_INPUT) {
            st = gx_graph_add_input(g, a->name, info, a->name_pos, &v, L->d);
        } else {
            gx_init init;
            st = eval_init(L, s, a, &init);
            if (st == GX_OK) st = gx_graph_add_param(g, a->name, info, init, a->name_pos, &v, L->d);
        }
        if (st != GX_OK) return st;
        return scope_add(L, s, (sym){.name = a->name, .kind = SYM_VALUE, .val = v,
                                     .pos = a->name_pos, .fixed = 1});
    }
    case GX_STMT_OUTPUT:
        for (int i = 0; i < a->n_names; i++) {
            ev e;
            if (a->values && a->values[i]) {
                if (a->values[i]->kind == GX_EXPR_LOOP) {
                    ev res[MAX_RESULTS];
                    int n = 0;
                    st = lower_loop(L, s, a->values[i], res, MAX_RESULTS, &n);
                    if (st == GX_OK && n < 1)
                        st = gx_diag_at(L->d, GX_ERR_INVALID, a->values[i]->pos, "the loop yields nothing");
                    if (st != GX_OK) return st;
                    e = res[0];
                } else {
                    st = eval(L, s, a->values[i], &e);
                }
                if (st != GX_OK) return st;
                if (e.kind != EV_TENSOR)
                    return gx_diag_at(L->d, GX_ERR_INVALID, a->values[i]->pos,
                                      "an output must be a tensor, found %s", ev_kind_name(&e));
                st = bind_value(L, s, a->names[i], a->names_pos[i], e.val);
                if (st != GX_OK) return st;
            } else {
                sym *y = scope_find(s, a->names[i]);
                if (y == NULL || y->kind != SYM_VALUE) {
                    if (y == NULL) return unknown_name(L, s, a->names_pos[i], "value", a->names[i], 0);
                    return gx_diag_at(L->d, GX_ERR_INVALID, a->names_pos[i],
                                      "'%s' is not a tensor", a->names[i]);
                }
                e.val = y->val;
            }
            st = gx_graph_add_output(g, a->names[i], e.val, a->names_pos[i], L->d);
            if (st != GX_OK) return st;
        }
        return GX_OK;
    case GX_STMT_ASSIGN: return lower_assign(L, s, a);
    case GX_STMT_DEF: {
        for (int i = 0; i < a->n_names; i++)
            for (int k = 0; k < i; k++)
                if (strcmp(a->names[i], a->names[k]) == 0)
                    return gx_diag_at(L->d, GX_ERR_INVALID, a->names_pos[i],
                                      "parameter '%s' of '%s' is listed twice", a->names[i],
                                      a->name);
        sym *old = scope_find_local(s, a->name);
        if (old)
            return gx_diag_at(L->d, GX_ERR_INVALID, a->name_pos, "'%s' is already defined at %d:%d",
                              a->name, (int)old->pos.line, (int)old->pos.col);
        return scope_add(L, s, (sym){.name = a->name, .kind = SYM_DEF, .def = a, .pos = a->name_pos});
    }
    case GX_STMT_RETURN:
        return gx_diag_at(L->d, GX_ERR_INVALID, a->pos, "return outside a def");
    case GX_STMT_TRAIN:
        /* training defaults are read by `gexec train`; the graph itself does not use them */
        return GX_OK;
    case GX_STMT_STATE: return lower_state(L, s, a);
    case GX_STMT_IMPORT: return lower_import(L, s, a);
    }
    return gx_diag_at(L->d, GX_ERR_INVALID, a->pos, "unknown statement");
}

static gx_status lower_stmts(lower *L, scope *s, gx_ast_stmt *const *stmts, int n,
                             const gx_ast_stmt **ret) {
    for (int i = 0; i < n; i++) {
        if (ret && stmts[i]->kind == GX_STMT_RETURN) {
            if (i != n - 1)
                return gx_diag_at(L->d, GX_ERR_INVALID, stmts[i + 1]->pos,
                                  "statement after return");
            *ret = stmts[i];
            return GX_OK;
        }
        gx_status st = lower_stmt(L, s, stmts[i], ret == NULL);
        if (st != GX_OK) return st;
    }
    return GX_OK;
}

/* the graph owns its source module and the modules it imported (their defs' positions) */
typedef struct sources {
    gx_ast_module  *main;
    gx_ast_module **imports;
    int32_t         n_imports;
} sources;

static void free_sources(void *p) {
    sources *s = p;
    gx_ast_free(s->main);
    for (int32_t i = 0; i < s->n_imports; i++) gx_ast_free(s->imports[i]);
    gx_free(s->imports);
    gx_free(s);
}

/* `graph NAME (unroll = 1)`, read before any loop is lowered */
static int graph_unroll_attr(const gx_ast_module *m) {
    for (int i = 0; i < m->n_stmts; i++) {
        const gx_ast_stmt *a = m->stmts[i];
        if (a->kind != GX_STMT_GRAPH) continue;
        for (int k = 0; k < a->n_names; k++)
            if (strcmp(a->names[k], "unroll") == 0 && a->values[k]->kind == GX_EXPR_NUMBER)
                return a->values[k]->is_int && a->values[k]->ival == 1;
    }
    return 0;
}

gx_status gx_lower_with(gx_ast_module *m, gx_registry *reg, const gx_lower_opts *o,
                        gx_graph **out, gx_diag *d) {
    static const gx_lower_opts none = {.unroll = -1};
    if (o == NULL) o = &none;
    *out = NULL;
    gx_graph *g = gx_graph_new(reg);
    sources *src = gx_calloc(1, sizeof *src);
    if (g == NULL || src == NULL) {
        gx_graph_free(g);
        gx_free(src);
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    lower L = {.g = g, .d = d, .binds = o->binds, .n_binds = o->n_binds,
               .unroll = o->unroll >= 0 ? o->unroll : graph_unroll_attr(m), .train = o->train,
               .diag = o->diag, .top = g};
    scope global = {.graph = g};
    /* the graph's default name: the file name without directory and extension */
    const char *base = strrchr(m->file, '/');
    base = base ? base + 1 : m->file;
    size_t len = strcspn(base, ".");
    g->name = gx_arena_strndup(&g->arena, base, len);
    gx_status st = g->name ? GX_OK : gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    /* defs (and imported defs) may be called before they appear: register them first */
    for (int i = 0; st == GX_OK && i < m->n_stmts; i++)
        if (m->stmts[i]->kind == GX_STMT_DEF || m->stmts[i]->kind == GX_STMT_IMPORT)
            st = lower_stmt(&L, &global, m->stmts[i], 1);
    for (int i = 0; st == GX_OK && i < m->n_stmts; i++)
        if (m->stmts[i]->kind != GX_STMT_DEF && m->stmts[i]->kind != GX_STMT_IMPORT)
            st = lower_stmt(&L, &global, m->stmts[i], 1);
    for (int i = 0; st == GX_OK && i < o->n_binds; i++) {
        sym *y = scope_find_local(&global, o->binds[i].name);
        if (y == NULL || (y->kind != SYM_DIM && y->kind != SYM_UNBOUND_DIM))
            st = gx_diag_set(d, GX_ERR_NOT_FOUND, "--dim %s: the graph has no dim '%s'",
                             o->binds[i].name, o->binds[i].name);
    }
    /* the loss: the value named `loss`, made an output if it is not one already */
    if (st == GX_OK) {
        sym *y = scope_find_local(&global, "loss");
        if (y && y->kind == SYM_VALUE) {
            g->loss = y->val;
            if (gx_graph_find_output(g, "loss") < 0)
                st = gx_graph_add_output(g, "loss", y->val, y->pos, d);
        }
    }
    if (st == GX_OK && o->diag) st = gx_probes_outer(g, d);
    if (st == GX_OK) st = gx_graph_check_memory(g, d);
    gx_free(global.syms);
    src->imports = L.imports;
    src->n_imports = L.n_imports;
    if (st != GX_OK) {
        src->main = NULL; /* the caller still owns m on failure */
        free_sources(src);
        gx_graph_free(g);
        return st;
    }
    src->main = m;
    g->source = src;
    g->source_free = free_sources;
    *out = g;
    return GX_OK;
}

gx_status gx_lower(gx_ast_module *m, gx_registry *reg, const gx_dim_binding *binds, int n_binds,
                   gx_graph **out, gx_diag *d) {
    gx_lower_opts o = {.binds = binds, .n_binds = n_binds, .unroll = -1};
    return gx_lower_with(m, reg, &o, out, d);
}

gx_status gx_read_file(const char *path, char **data, size_t *n, gx_diag *d) {
    *data = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return gx_diag_set(d, GX_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = gx_malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            if (cap >= ((size_t)1 << 30)) {
                gx_free(buf);
                fclose(f);
                return gx_diag_set(d, GX_ERR_IO, "'%s' is too large", path);
            }
            char *p = gx_realloc(buf, cap * 2);
            if (p == NULL) break;
            buf = p;
            cap *= 2;
        }
        size_t k = fread(buf + len, 1, cap - len - 1, f);
        len += k;
        if (k == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (buf == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory reading '%s'", path);
    if (err) {
        gx_free(buf);
        return gx_diag_set(d, GX_ERR_IO, "cannot read '%s'", path);
    }
    buf[len] = '\0';
    *data = buf;
    *n = len;
    return GX_OK;
}

gx_status gx_graph_load_file(gx_registry *reg, const char *path, const gx_dim_binding *binds,
                             int n_binds, gx_graph **out, gx_diag *d) {
    gx_lower_opts o = {.binds = binds, .n_binds = n_binds, .unroll = -1};
    return gx_graph_load_file_with(reg, path, &o, out, d);
}

gx_status gx_graph_load_file_with(gx_registry *reg, const char *path, const gx_lower_opts *o,
                                  gx_graph **out, gx_diag *d) {
    *out = NULL;
    char *src;
    size_t n;
    gx_status st = gx_read_file(path, &src, &n, d);
    if (st != GX_OK) return st;
    gx_ast_module *m = NULL;
    st = gx_parse(src, n, path, &m, d);
    gx_free(src);
    if (st != GX_OK) return st;
    st = gx_lower_with(m, reg, o, out, d);
    if (st != GX_OK) gx_ast_free(m);
    return st;
}

gx_status gx_bind_dims_from_inputs(const gx_ast_module *m, gx_input_shape_fn shape_of, void *user,
                                   gx_dim_binding *binds, int max_binds, int *n_binds,
                                   gx_diag *d) {
    for (int i = 0; i < m->n_stmts; i++) {
        const gx_ast_stmt *a = m->stmts[i];
        if (a->kind != GX_STMT_INPUT) continue;
        gx_shape shape;
        if (!shape_of(user, a->name, &shape) || shape.ndim != a->type.n_dims) continue;
        for (int k = 0; k < a->type.n_dims; k++) {
            const gx_ast_expr *x = a->type.dims[k];
            if (x->kind != GX_EXPR_NAME) continue;
            /* only dims declared without a value */
            int unbound = 0;
            for (int j = 0; j < m->n_stmts; j++)
                if (m->stmts[j]->kind == GX_STMT_DIM && m->stmts[j]->value == NULL &&
                    strcmp(m->stmts[j]->name, x->name) == 0)
                    unbound = 1;
            if (!unbound) continue;
            int found = -1;
            for (int j = 0; j < *n_binds; j++)
                if (strcmp(binds[j].name, x->name) == 0) found = j;
            if (found >= 0) {
                if (binds[found].value != shape.dims[k])
                    return gx_diag_at(d, GX_ERR_SHAPE, x->pos,
                                      "dim '%s' is %lld from an earlier input, but input '%s' "
                                      "has %lld there", x->name, (long long)binds[found].value,
                                      a->name, (long long)shape.dims[k]);
                continue;
            }
            if (*n_binds >= max_binds) return gx_diag_set(d, GX_ERR_INVALID, "too many dims");
            binds[*n_binds].name = x->name;
            binds[*n_binds].value = shape.dims[k];
            (*n_binds)++;
        }
    }
    return GX_OK;
}
