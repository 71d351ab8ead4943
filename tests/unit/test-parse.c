/*
 * test-parse.c: the .graph lexer and parser.
 *
 * Two files using every construct (the second: recurrence, state, imports, graph attributes)
 * must parse into the expected AST; a table of snippets must fail with exactly the expected
 * `file:line:col: error: ...` message; and no input (prefixes and random mutations of both
 * files, absurd nesting, huge sizes) may crash, hang or read out of bounds. Inputs
 * are copied into exact-size heap buffers so AddressSanitizer sees any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ast.h"
#include "lower.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- helpers ----

/* Parse the first n bytes of text from a heap copy with no NUL after it. */
static gx_status parse_n(const char *text, size_t n, const char *file, gx_ast_module **m,
                         gx_diag *d) {
    char *buf = malloc(n ? n : 1);
    assert_non_null(buf);
    memcpy(buf, text, n);
    gx_diag_init(d);
    gx_status st = gx_parse(buf, n, file, m, d);
    free(buf);
    return st;
}

static gx_status parse_s(const char *text, gx_ast_module **m, gx_diag *d) {
    return parse_n(text, strlen(text), "t.graph", m, d);
}

typedef struct sink {
    char  *buf;
    size_t len, cap;
} sink;

static void sink_write(void *ud, const char *s) {
    sink *k = ud;
    size_t n = strlen(s);
    if (k->len + n + 1 > k->cap) {
        k->cap = (k->len + n + 1) * 2;
        k->buf = realloc(k->buf, k->cap);
        assert_non_null(k->buf);
    }
    memcpy(k->buf + k->len, s, n + 1);
    k->len += n;
}

static char *ast_text(const gx_ast_module *m) {
    sink k = {NULL, 0, 0};
    sink_write(&k, "");
    gx_ast_print(m, sink_write, &k);
    return k.buf;
}

static void assert_pos(gx_srcpos pos, int line, int col) {
    assert_non_null(pos.file);
    assert_int_equal(pos.line, line);
    assert_int_equal(pos.col, col);
}

// ---- a valid file with every construct ----

static const char valid_src[] =
    "# mlp.graph: a two-layer perceptron with hand-written layers\n"
    "graph mlp\n"
    "dim B\n"
    "dim D = 784\n"
    "dim H = 4 * 64            # hidden width\n"
    "dim C = (D - 4) / 78 % 11\n"
    "dim N = -2 + B\n"
    "\n"
    "input  x      : f32[B, D]\n"
    "input  labels : i32[B]\n"
    "input  scale  : f32[]\n"
    "param  W1 : f32[D, H]      init xavier\n"
    "param  b1 : f32[H]         init zeros\n"
    "param  W2 : f32[H, 2*C]    init normal(0, 0.1)\n"
    "param  b2 : f32[2 * C]     init constant(value = -2)\n"
    "param  g  : f32[H]\n"
    "\n"
    "def dense(x, W, b) {\n"
    "    return x @ W + b\n"
    "}\n"
    "\n"
    "def halves(v) {\n"
    "    lo, hi = split(v, 2, axis = -1)   probe \"split.halves\"\n"
    "    return lo * 0.5, -hi\n"
    "}\n"
    "\n"
    "h = relu(dense(x, W1, b1) * g)      probe \"hidden\"\n"
    "logits, extra = halves(dense(h, W2, b2))\n"
    "y = logits[0, -1] * 0.5 - -logits / 2.5e-1\n"
    "z = reshape(y, [B, 1, .5, 1e-3, 2E+4], [])\n"
    "s = \"tab\\there \\\"quoted\\\" back\\\\slash\\nnewline\"\n"
    "loss = cross_entropy(logits, labels) + 0.01 * sum(W1 @ W1) % 3 - extra[1][2]\n"
    "output loss, probs = softmax(logits), h\n"
    "\n"
    "train { optimizer = adam(lr = 2e-3)  clip = 5\n"
    "        epochs = 10 name = \"mlp\" }\n";

static const char valid_ast[] =
    "(graph mlp)\n"
    "(dim B)\n"
    "(dim D 784)\n"
    "(dim H (* 4 64))\n"
    "(dim C (% (/ (- D 4) 78) 11))\n"
    "(dim N (+ -2 B))\n"
    "(input x (type f32 B D))\n"
    "(input labels (type i32 B))\n"
    "(input scale (type f32))\n"
    "(param W1 (type f32 D H) (init xavier))\n"
    "(param b1 (type f32 H) (init zeros))\n"
    "(param W2 (type f32 H (* 2 C)) (init (call normal 0 0.1)))\n"
    "(param b2 (type f32 (* 2 C)) (init (call constant value=-2)))\n"
    "(param g (type f32 H))\n"
    "(def dense (x W b)\n"
    "  (return (+ (@ x W) b)))\n"
    "(def halves (v)\n"
    "  (assign (lo hi) (call split v 2 axis=-1) (probe \"split.halves\"))\n"
    "  (return (* lo 0.5) (- hi)))\n"
    "(assign (h) (call relu (* (call dense x W1 b1) g)) (probe \"hidden\"))\n"
    "(assign (logits extra) (call halves (call dense h W2 b2)))\n"
    "(assign (y) (- (* (index logits 0 -1) 0.5) (/ (- logits) 0.25)))\n"
    "(assign (z) (call reshape y (list B 1 0.5 0.001 20000.0) (list)))\n"
    "(assign (s) \"tab\\there \\\"quoted\\\" back\\\\slash\\nnewline\")\n"
    "(assign (loss) (- (+ (call cross_entropy logits labels) (% (* 0.01 (call sum (@ W1 W1))) 3))"
    " (index (index extra 1) 2)))\n"
    "(output loss (= probs (call softmax logits)) h)\n"
    "(train\n"
    "  (= optimizer (call adam lr=0.002))\n"
    "  (= clip 5)\n"
    "  (= epochs 10)\n"
    "  (= name \"mlp\"))\n";

static void test_parse_valid_file(void **state) {
    gx_ast_module *m;
    gx_diag d;
    assert_int_equal(parse_s(valid_src, &m, &d), GX_OK);
    assert_non_null(m);
    assert_string_equal(m->file, "t.graph");
    assert_int_equal(m->n_stmts, 24);
    gx_ast_stmt **s = m->stmts;

    assert_int_equal(s[0]->kind, GX_STMT_GRAPH);
    assert_string_equal(s[0]->name, "mlp");
    assert_pos(s[0]->pos, 2, 1);
    assert_pos(s[0]->name_pos, 2, 7);
    assert_ptr_equal(s[0]->pos.file, m->file);
    assert_int_equal(s[0]->n_names, 0);   /* no attributes */

    assert_int_equal(s[1]->kind, GX_STMT_DIM);
    assert_null(s[1]->value);
    assert_int_equal(s[2]->value->kind, GX_EXPR_NUMBER);
    assert_true(s[2]->value->is_int);
    assert_int_equal(s[2]->value->ival, 784);
    assert_int_equal(s[3]->value->kind, GX_EXPR_BINARY);
    assert_int_equal(s[3]->value->op, '*');
    assert_pos(s[3]->value->pos, 5, 11);
    gx_ast_expr *neg = s[5]->value->lhs;   /* -2 folds into a literal */
    assert_int_equal(neg->kind, GX_EXPR_NUMBER);
    assert_int_equal(neg->ival, -2);
    assert_float_equal(neg->num, -2.0, 0.0);
    assert_pos(neg->pos, 7, 9);

    assert_int_equal(s[6]->kind, GX_STMT_INPUT);
    assert_string_equal(s[6]->name, "x");
    assert_string_equal(s[6]->type.dtype, "f32");
    assert_pos(s[6]->type.dtype_pos, 9, 17);
    assert_int_equal(s[6]->type.n_dims, 2);
    assert_string_equal(s[6]->type.dims[1]->name, "D");
    assert_string_equal(s[7]->type.dtype, "i32");
    assert_int_equal(s[8]->type.n_dims, 0);

    assert_int_equal(s[9]->kind, GX_STMT_PARAM);
    assert_int_equal(s[9]->init->kind, GX_EXPR_NAME);
    assert_string_equal(s[9]->init->name, "xavier");
    assert_int_equal(s[11]->init->kind, GX_EXPR_CALL);
    assert_string_equal(s[11]->init->name, "normal");
    assert_int_equal(s[11]->init->n_args, 2);
    assert_false(s[11]->init->args[1].value->is_int);
    assert_float_equal(s[11]->init->args[1].value->num, 0.1, 0.0);
    assert_string_equal(s[12]->init->args[0].name, "value");
    assert_int_equal(s[12]->init->args[0].value->ival, -2);
    assert_null(s[13]->init);

    gx_ast_stmt *dense = s[14];
    assert_int_equal(dense->kind, GX_STMT_DEF);
    assert_string_equal(dense->name, "dense");
    assert_int_equal(dense->n_names, 3);
    assert_string_equal(dense->names[2], "b");
    assert_pos(dense->names_pos[2], 18, 17);
    assert_int_equal(dense->n_body, 1);
    assert_int_equal(dense->body[0]->kind, GX_STMT_RETURN);
    assert_int_equal(dense->body[0]->values[0]->op, '+');
    assert_int_equal(dense->body[0]->values[0]->lhs->op, '@');

    gx_ast_stmt *halves = s[15];
    assert_int_equal(halves->n_body, 2);
    gx_ast_stmt *split = halves->body[0];
    assert_int_equal(split->kind, GX_STMT_ASSIGN);
    assert_int_equal(split->n_names, 2);
    assert_string_equal(split->names[1], "hi");
    assert_string_equal(split->probe, "split.halves");
    assert_string_equal(split->value->args[2].name, "axis");
    assert_int_equal(split->value->args[2].value->ival, -1);
    assert_int_equal(halves->body[1]->n_values, 2);
    assert_int_equal(halves->body[1]->values[1]->kind, GX_EXPR_UNARY);

    assert_string_equal(s[16]->probe, "hidden");
    assert_null(s[17]->probe);
    gx_ast_expr *y = s[18]->value;
    assert_int_equal(y->rhs->op, '/');
    assert_int_equal(y->rhs->lhs->kind, GX_EXPR_UNARY);
    assert_float_equal(y->rhs->rhs->num, 0.25, 0.0);
    assert_int_equal(y->lhs->lhs->kind, GX_EXPR_INDEX);
    assert_pos(y->lhs->lhs->pos, 29, 5);
    assert_int_equal(y->lhs->lhs->n_args, 2);

    gx_ast_expr *list = s[19]->value->args[1].value;
    assert_int_equal(list->kind, GX_EXPR_LIST);
    assert_int_equal(list->n_args, 5);
    assert_true(list->args[1].value->is_int);
    assert_float_equal(list->args[2].value->num, 0.5, 0.0);
    assert_float_equal(list->args[3].value->num, 1e-3, 0.0);
    assert_float_equal(list->args[4].value->num, 2e4, 0.0);
    assert_false(list->args[4].value->is_int);
    assert_int_equal(s[19]->value->args[2].value->n_args, 0);

    assert_int_equal(s[20]->value->kind, GX_EXPR_STRING);
    assert_string_equal(s[20]->value->str, "tab\there \"quoted\" back\\slash\nnewline");

    gx_ast_stmt *out = s[22];
    assert_int_equal(out->kind, GX_STMT_OUTPUT);
    assert_int_equal(out->n_names, 3);
    assert_null(out->values[0]);
    assert_string_equal(out->names[1], "probs");
    assert_string_equal(out->values[1]->name, "softmax");
    assert_null(out->values[2]);

    gx_ast_stmt *train = s[23];
    assert_int_equal(train->kind, GX_STMT_TRAIN);
    assert_int_equal(train->n_names, 4);
    assert_int_equal(train->n_values, 4);
    assert_string_equal(train->names[1], "clip");
    assert_int_equal(train->values[1]->ival, 5);
    assert_string_equal(train->values[0]->args[0].name, "lr");
    assert_float_equal(train->values[0]->args[0].value->num, 2e-3, 0.0);
    assert_string_equal(train->values[3]->str, "mlp");
    assert_pos(train->names_pos[2], 36, 9);

    char *text = ast_text(m);
    if (strcmp(text, valid_ast) != 0) print_error("AST printed as:\n%s", text);
    assert_string_equal(text, valid_ast);
    free(text);
    gx_ast_free(m);
}

// ---- a valid file with recurrence: state, loop, carry, yield, import, graph attributes ----

static const char lstm_src[] =
    "# char_lstm.graph: a character LSTM with streaming state\n"
    "import \"cells.graph\"\n"
    "graph char_lstm (unroll = 1, tag = \"lstm\")\n"
    "\n"
    "dim B\n"
    "dim T\n"
    "dim V = 96\n"
    "dim E = 32\n"
    "dim H = 128\n"
    "\n"
    "input  chars : i32[B, T]\n"
    "input  lens  : f32[B, T]\n"
    "param  emb   : f32[V, E]     init normal(0, 0.1)\n"
    "param  W_ih  : f32[E, 4*H]   init xavier\n"
    "param  W_hh  : f32[H, 4*H]   init orthogonal\n"
    "param  b_ih  : f32[4*H]      init zeros\n"
    "param  b_hh  : f32[4*H]      init zeros\n"
    "param  W_out : f32[H, V]     init xavier\n"
    "state  h0    : f32[B, H] = 0\n"
    "state  c0    : f32[B, H] = param init constant(value = 0.5)\n"
    "state  z0    : f32[B, H] = input\n"
    "\n"
    "def encode(x, g0) {\n"
    "    gs = loop t over x carry (g = g0) { g = tanh(x[t] + g) yield g }\n"
    "    return gs\n"
    "}\n"
    "\n"
    "x = embedding(chars, emb)\n"
    "hs, hT, cT = loop t over x axis 1 mask lens carry (h = h0, c = c0) {\n"
    "    h, c = lstm_cell(x[t], h, c, W_ih, W_hh, b_ih, b_hh)   probe \"cell\"\n"
    "    yield h\n"
    "}\n"
    "back = loop s over x, hs reverse axis -1 + 2 carry (g = z0) {\n"
    "    g = tanh(x[s] @ W_ih + g @ W_hh)\n"
    "}\n"
    "logits = hs @ W_out\n"
    "output probs = softmax(logits, axis = -1), hT, cT\n"
    "output rev = loop u over hs mask lens reverse { yield hs[u] * 2, u }\n";

static const char lstm_ast[] =
    "(import \"cells.graph\")\n"
    "(graph char_lstm (= unroll 1) (= tag \"lstm\"))\n"
    "(dim B)\n"
    "(dim T)\n"
    "(dim V 96)\n"
    "(dim E 32)\n"
    "(dim H 128)\n"
    "(input chars (type i32 B T))\n"
    "(input lens (type f32 B T))\n"
    "(param emb (type f32 V E) (init (call normal 0 0.1)))\n"
    "(param W_ih (type f32 E (* 4 H)) (init xavier))\n"
    "(param W_hh (type f32 H (* 4 H)) (init orthogonal))\n"
    "(param b_ih (type f32 (* 4 H)) (init zeros))\n"
    "(param b_hh (type f32 (* 4 H)) (init zeros))\n"
    "(param W_out (type f32 H V) (init xavier))\n"
    "(state h0 (type f32 B H) zeros)\n"
    "(state c0 (type f32 B H) param (init (call constant value=0.5)))\n"
    "(state z0 (type f32 B H) input)\n"
    "(def encode (x g0)\n"
    "  (assign (gs) (loop t (over x) (carry (= g g0))\n"
    "    (assign (g) (call tanh (+ (index x t) g)))\n"
    "    (yield g)))\n"
    "  (return gs))\n"
    "(assign (x) (call embedding chars emb))\n"
    "(assign (hs hT cT) (loop t (over x) (axis 1) (mask lens) (carry (= h h0) (= c c0))\n"
    "  (assign (h c) (call lstm_cell (index x t) h c W_ih W_hh b_ih b_hh) (probe \"cell\"))\n"
    "  (yield h)))\n"
    "(assign (back) (loop s (over x hs) (axis (+ -1 2)) reverse (carry (= g z0))\n"
    "  (assign (g) (call tanh (+ (@ (index x s) W_ih) (@ g W_hh))))))\n"
    "(assign (logits) (@ hs W_out))\n"
    "(output (= probs (call softmax logits axis=-1)) hT cT)\n"
    "(output (= rev (loop u (over hs) reverse (mask lens)\n"
    "  (yield (* (index hs u) 2) u))))\n";

static void test_parse_recurrence_file(void **state) {
    gx_ast_module *m;
    gx_diag d;
    assert_int_equal(parse_s(lstm_src, &m, &d), GX_OK);
    assert_int_equal(m->n_stmts, 25);
    gx_ast_stmt **s = m->stmts;

    assert_int_equal(s[0]->kind, GX_STMT_IMPORT);
    assert_string_equal(s[0]->path, "cells.graph");
    assert_pos(s[0]->pos, 2, 1);

    gx_ast_stmt *g = s[1];
    assert_int_equal(g->kind, GX_STMT_GRAPH);
    assert_string_equal(g->name, "char_lstm");
    assert_pos(g->name_pos, 3, 7);
    assert_int_equal(g->n_names, 2);
    assert_int_equal(g->n_values, 2);
    assert_string_equal(g->names[0], "unroll");
    assert_int_equal(g->values[0]->ival, 1);
    assert_string_equal(g->names[1], "tag");
    assert_pos(g->names_pos[1], 3, 30);
    assert_string_equal(g->values[1]->str, "lstm");

    gx_ast_stmt *h0 = s[15], *c0 = s[16], *z0 = s[17];
    assert_int_equal(h0->kind, GX_STMT_STATE);
    assert_string_equal(h0->name, "h0");
    assert_pos(h0->name_pos, 19, 8);
    assert_int_equal(h0->state_kind, GX_STATE_ZEROS);
    assert_string_equal(h0->type.dtype, "f32");
    assert_pos(h0->type.dtype_pos, 19, 16);
    assert_int_equal(h0->type.n_dims, 2);
    assert_string_equal(h0->type.dims[1]->name, "H");
    assert_null(h0->init);
    assert_int_equal(c0->state_kind, GX_STATE_PARAM);
    assert_int_equal(c0->init->kind, GX_EXPR_CALL);
    assert_string_equal(c0->init->name, "constant");
    assert_pos(c0->init->pos, 20, 39);
    assert_float_equal(c0->init->args[0].value->num, 0.5, 0.0);
    assert_int_equal(z0->state_kind, GX_STATE_INPUT);
    assert_null(z0->init);

    /* a loop inside a def, with one carry, one body statement and one yield */
    gx_ast_stmt *enc = s[18];
    assert_int_equal(enc->kind, GX_STMT_DEF);
    assert_int_equal(enc->n_body, 2);
    gx_ast_expr *le = enc->body[0]->value;
    assert_int_equal(le->kind, GX_EXPR_LOOP);
    assert_pos(le->pos, 24, 10);
    assert_int_equal(le->loop->n_carry, 1);
    assert_int_equal(le->loop->n_body, 1);
    assert_int_equal(le->loop->n_yield, 1);
    assert_null(le->loop->axis);
    assert_null(le->loop->mask);
    assert_false(le->loop->reverse);

    /* the LSTM: two carries, axis and mask clauses, a probed body assignment, a yield */
    gx_ast_stmt *rec = s[20];
    assert_int_equal(rec->kind, GX_STMT_ASSIGN);
    assert_int_equal(rec->n_names, 3);
    assert_string_equal(rec->names[2], "cT");
    assert_null(rec->probe);
    gx_ast_expr *e = rec->value;
    assert_int_equal(e->kind, GX_EXPR_LOOP);
    assert_pos(e->pos, 29, 14);
    gx_ast_loop *l = e->loop;
    assert_non_null(l);
    assert_string_equal(l->index, "t");
    assert_pos(l->index_pos, 29, 19);
    assert_int_equal(l->n_seqs, 1);
    assert_string_equal(l->seqs[0]->name, "x");
    assert_int_equal(l->axis->kind, GX_EXPR_NUMBER);
    assert_int_equal(l->axis->ival, 1);
    assert_int_equal(l->mask->kind, GX_EXPR_NAME);
    assert_string_equal(l->mask->name, "lens");
    assert_false(l->reverse);
    assert_int_equal(l->n_carry, 2);
    assert_string_equal(l->carry_names[0], "h");
    assert_string_equal(l->carry_names[1], "c");
    assert_pos(l->carry_pos[0], 29, 52);
    assert_pos(l->carry_pos[1], 29, 60);
    assert_string_equal(l->carry_inits[0]->name, "h0");
    assert_string_equal(l->carry_inits[1]->name, "c0");
    assert_int_equal(l->n_body, 1);
    gx_ast_stmt *cell = l->body[0];
    assert_int_equal(cell->kind, GX_STMT_ASSIGN);
    assert_pos(cell->pos, 30, 5);
    assert_int_equal(cell->n_names, 2);
    assert_string_equal(cell->names[1], "c");
    assert_string_equal(cell->probe, "cell");
    assert_string_equal(cell->value->name, "lstm_cell");
    assert_int_equal(cell->value->args[0].value->kind, GX_EXPR_INDEX);
    assert_int_equal(l->n_yield, 1);
    assert_string_equal(l->yields[0]->name, "h");
    assert_pos(l->yield_pos, 31, 5);

    /* two sequences, reverse, an axis expression, carry only (no yield) */
    l = s[21]->value->loop;
    assert_string_equal(l->index, "s");
    assert_int_equal(l->n_seqs, 2);
    assert_string_equal(l->seqs[1]->name, "hs");
    assert_true(l->reverse);
    assert_int_equal(l->axis->kind, GX_EXPR_BINARY);
    assert_int_equal(l->axis->lhs->ival, -1);
    assert_pos(l->axis->lhs->pos, 33, 39);
    assert_null(l->mask);
    assert_int_equal(l->n_carry, 1);
    assert_int_equal(l->n_yield, 0);
    assert_null(l->yields);

    /* output = loop: yield only (no carry), clauses in another order, two yields */
    gx_ast_stmt *out = s[24];
    assert_int_equal(out->kind, GX_STMT_OUTPUT);
    assert_int_equal(out->n_names, 1);
    e = out->values[0];
    assert_int_equal(e->kind, GX_EXPR_LOOP);
    assert_pos(e->pos, 38, 14);
    l = e->loop;
    assert_true(l->reverse);
    assert_string_equal(l->mask->name, "lens");
    assert_int_equal(l->n_carry, 0);
    assert_null(l->carry_names);
    assert_int_equal(l->n_body, 0);
    assert_int_equal(l->n_yield, 2);
    assert_pos(l->yield_pos, 38, 49);
    assert_int_equal(l->yields[0]->op, '*');
    assert_string_equal(l->yields[1]->name, "u");

    char *text = ast_text(m);
    if (strcmp(text, lstm_ast) != 0) print_error("AST printed as:\n%s", text);
    assert_string_equal(text, lstm_ast);
    free(text);
    gx_ast_free(m);
}

/* `axis` and `mask` are clause words only right after a loop's sequences; elsewhere (and as
 * the sequences themselves) they are names. Keywords may not be names. */
static void test_parse_loop_clause_words(void **state) {
    gx_ast_module *m;
    gx_diag d;
    assert_int_equal(parse_s("mask = sum(y, axis = 1)\n"
                             "axis = mask\n"
                             "r = loop t over mask, axis axis axis mask mask "
                             "carry (axis = axis) {\n"
                             "    mask = mask[t] + axis\n"
                             "}\n",
                             &m, &d),
                     GX_OK);
    assert_int_equal(m->n_stmts, 3);
    assert_string_equal(m->stmts[0]->names[0], "mask");
    assert_string_equal(m->stmts[0]->value->args[1].name, "axis");
    gx_ast_loop *l = m->stmts[2]->value->loop;
    assert_int_equal(l->n_seqs, 2);
    assert_string_equal(l->seqs[0]->name, "mask");
    assert_string_equal(l->seqs[1]->name, "axis");
    assert_string_equal(l->axis->name, "axis");
    assert_string_equal(l->mask->name, "mask");
    assert_string_equal(l->carry_names[0], "axis");
    assert_string_equal(l->body[0]->names[0], "mask");
    char *text = ast_text(m);
    assert_string_equal(text, "(assign (mask) (call sum y axis=1))\n"
                              "(assign (axis) mask)\n"
                              "(assign (r) (loop t (over mask axis) (axis axis) (mask mask) "
                              "(carry (= axis axis))\n"
                              "  (assign (mask) (+ (index mask t) axis))))\n");
    free(text);
    gx_ast_free(m);

    /* the smallest loops (a yield or a carry, no body), a probe on a loop, one graph attribute */
    assert_int_equal(parse_s("graph g (unroll = T * 2)\n"
                             "y = loop t over x { yield x[t] } probe \"ys\"\n"
                             "z = loop t over x carry (h = 0) { }\n",
                             &m, &d),
                     GX_OK);
    assert_int_equal(m->stmts[0]->n_names, 1);
    assert_int_equal(m->stmts[0]->values[0]->op, '*');
    assert_string_equal(m->stmts[1]->probe, "ys");
    assert_int_equal(m->stmts[1]->value->loop->n_body, 0);
    assert_int_equal(m->stmts[2]->value->loop->n_body, 0);
    assert_int_equal(m->stmts[2]->value->loop->n_yield, 0);
    text = ast_text(m);
    assert_string_equal(text, "(graph g (= unroll (* T 2)))\n"
                              "(assign (y) (loop t (over x)\n"
                              "  (yield (index x t))) (probe \"ys\"))\n"
                              "(assign (z) (loop t (over x) (carry (= h 0))))\n");
    free(text);
    gx_ast_free(m);
}

/* The module owns a copy of the file name; input need not be NUL-terminated; empty is fine. */
static void test_parse_ownership_and_edges(void **state) {
    gx_ast_module *m;
    gx_diag d;
    char name[] = "model.graph";
    assert_int_equal(parse_n("x = 1\n", 6, name, &m, &d), GX_OK);
    name[0] = 'X';
    assert_string_equal(m->file, "model.graph");
    assert_string_equal(m->stmts[0]->pos.file, "model.graph");
    gx_ast_free(m);

    /* only "x =" of "x = 1" is input */
    assert_int_equal(parse_n("x = 1", 3, "t.graph", &m, &d), GX_ERR_PARSE);
    assert_null(m);
    assert_string_equal(d.msg, "t.graph:1:4: error: expected an expression, found end of file");

    assert_int_equal(gx_parse(NULL, 0, "e.graph", &m, &d), GX_OK);
    assert_int_equal(m->n_stmts, 0);
    gx_ast_free(m);
    gx_ast_free(NULL);

    gx_diag_init(&d);
    assert_int_equal(gx_parse("", 0, NULL, &m, &d), GX_OK);
    assert_string_equal(m->file, "<input>");
    gx_ast_free(m);

    /* tabs count one column, CRLF counts one line, comments end at the newline */
    assert_int_equal(parse_s("\t# c\r\n\tx\t=\t(\t1\r\n", &m, &d), GX_ERR_PARSE);
    assert_string_equal(d.msg, "t.graph:3:1: error: expected ')' to close '(' at 2:6, "
                               "found end of file");
    assert_int_equal(parse_s("a = 9223372036854775807 b = -9223372036854775807", &m, &d), GX_OK);
    assert_int_equal(m->stmts[0]->value->ival, 9223372036854775807LL);
    assert_int_equal(m->stmts[1]->value->ival, -9223372036854775807LL);
    gx_ast_free(m);
}

// ---- error messages ----

typedef struct error_case {
    const char *src;
    const char *msg;
} error_case;

static const error_case error_cases[] = {
    /* brackets and expressions */
    {"x = (1 + 2", "t.graph:1:11: error: expected ')' to close '(' at 1:5, found end of file"},
    {"x = f(a, b c)", "t.graph:1:12: error: expected ')' to close '(' at 1:6, found 'c'"},
    {"x = )", "t.graph:1:5: error: expected an expression, found ')'"},
    {"x = f(1,)", "t.graph:1:9: error: expected an expression, found ')'"},
    {"x = -", "t.graph:1:6: error: expected an expression, found end of file"},
    {"x = +1", "t.graph:1:5: error: expected an expression, found '+'"},
    {"x = [1, 2", "t.graph:1:10: error: expected ']' to close '[' at 1:5, found end of file"},
    {"x = y[]", "t.graph:1:7: error: expected an expression, found ']'"},
    {"x = y[0 1]", "t.graph:1:9: error: expected ']' to close '[' at 1:6, found 1"},
    {"x = f(a = 1, 2)", "t.graph:1:14: error: positional argument after keyword argument 'a'"},
    {"x = f(a)(b)", "t.graph:1:9: error: unexpected '(': only a function name can be called"},
    {"x = (f)(b)", "t.graph:1:8: error: unexpected '(': only a function name can be called"},
    {"x = input + 1", "t.graph:1:5: error: expected an expression, found keyword 'input'"},
    {"x = init", "t.graph:1:5: error: expected an expression, found keyword 'init'"},
    {"x = loop t over y { }", "t.graph:1:5: error: a loop needs a carry or a yield"},
    /* statements */
    {"x y", "t.graph:1:3: error: expected '=' or ',' after 'x', found 'y'"},
    {"a, b c = 1", "t.graph:1:6: error: expected '=' or ',' after 'b', found 'c'"},
    {"x", "t.graph:1:2: error: expected '=' or ',' after 'x', found end of file"},
    {"a, = 1", "t.graph:1:4: error: expected a name, found '='"},
    {"a, input = f(x)", "t.graph:1:4: error: expected a name, found keyword 'input'"},
    {"x = 1 2", "t.graph:1:7: error: expected a statement, found 2"},
    {"x = 1 # one\n)", "t.graph:2:1: error: expected a statement, found ')'"},
    {"probe \"p\"", "t.graph:1:1: error: expected a statement, found keyword 'probe'"},
    {"x = 1 probe 5", "t.graph:1:13: error: expected a string after 'probe', found 5"},
    {"loop t over x { }",
     "t.graph:1:1: error: a loop must be the whole right-hand side of an assignment"},
    {"state h : f32[B] = 1",
     "t.graph:1:20: error: expected 0, input or param after '=' in state 'h', found 1"},
    {"import cells", "t.graph:1:8: error: expected a string after 'import', found 'cells'"},
    {"\n  yield h", "t.graph:2:3: error: 'yield' outside a loop body"},
    {"graph", "t.graph:1:6: error: expected a name, found end of file"},
    {"graph 1", "t.graph:1:7: error: expected a name, found 1"},
    {"output", "t.graph:1:7: error: expected a name, found end of file"},
    {"output y = ", "t.graph:1:12: error: expected an expression, found end of file"},
    {"dim input = 3", "t.graph:1:5: error: expected a name, found keyword 'input'"},
    /* dims and types */
    {"input x [B]", "t.graph:1:9: error: expected ':' after input name 'x', found '['"},
    {"param W f32[B]", "t.graph:1:9: error: expected ':' after param name 'W', found 'f32'"},
    {"input x : [B]", "t.graph:1:11: error: expected a dtype such as f32, found '['"},
    {"input x : f32",
     "t.graph:1:14: error: expected '[' after dtype 'f32', found end of file "
     "(a scalar is written f32[])"},
    {"input x : f32[B, H",
     "t.graph:1:19: error: expected ']' to close '[' at 1:14, found end of file"},
    {"input x : f32[B,]", "t.graph:1:17: error: expected a dimension such as 64 or H, found ']'"},
    {"input x : f32[B, 2.5]",
     "t.graph:1:18: error: expected a dimension such as 64 or H, found 2.5"},
    {"input x : f32[B[0]]",
     "t.graph:1:16: error: indexing is not allowed in a dimension expression"},
    {"dim H = \"a\"", "t.graph:1:9: error: expected a dimension such as 64 or H, found a string"},
    {"dim H = [1]", "t.graph:1:9: error: expected a dimension such as 64 or H, found '['"},
    {"dim H = f(2)", "t.graph:1:10: error: calls are not allowed in a dimension expression"},
    {"dim H = (A)(2)", "t.graph:1:12: error: calls are not allowed in a dimension expression"},
    {"dim H = A @ B", "t.graph:1:11: error: '@' is not allowed in a dimension expression"},
    {"param W : f32[H] init 5",
     "t.graph:1:23: error: expected an initializer such as xavier or normal(0, 0.1), found 5"},
    {"param W : f32[H] init normal(0, 1",
     "t.graph:1:34: error: expected ')' to close '(' at 1:29, found end of file"},
    /* def, return, train */
    {"return x", "t.graph:1:1: error: 'return' outside a def"},
    {"def f(x) { def g(y) { return y } }", "t.graph:1:12: error: nested 'def' is not allowed"},
    {"def f(x) { return x",
     "t.graph:1:20: error: expected '}' to close '{' at 1:10, found end of file"},
    {"def f(x) {\n  input y : f32[]\n}", "t.graph:2:3: error: 'input' is not allowed inside a def"},
    {"def f(x) { train { } }", "t.graph:1:12: error: 'train' is not allowed inside a def"},
    {"def f(x) { 3 }", "t.graph:1:12: error: expected a statement or '}', found 3"},
    {"def f(x) { x }", "t.graph:1:14: error: expected '=' or ',' after 'x', found '}'"},
    {"def f x", "t.graph:1:7: error: expected '(' after def name 'f', found 'x'"},
    {"def f(x, 1) { }", "t.graph:1:10: error: expected a name, found 1"},
    {"def f(x { }", "t.graph:1:9: error: expected ')' to close '(' at 1:6, found '{'"},
    {"def f(x) return x",
     "t.graph:1:10: error: expected '{' to begin the body of 'f', found keyword 'return'"},
    {"train clip = 5", "t.graph:1:7: error: expected '{' after 'train', found 'clip'"},
    {"train { clip 5 }", "t.graph:1:14: error: expected '=' after train setting 'clip', found 5"},
    {"train { 5 }", "t.graph:1:9: error: expected a setting name or '}', found 5"},
    {"train { init = 1 }",
     "t.graph:1:9: error: expected a setting name or '}', found keyword 'init'"},
    {"train { clip = 5",
     "t.graph:1:17: error: expected '}' to close '{' at 1:7, found end of file"},
    /* graph attributes, state, import */
    {"graph g (unroll 1)",
     "t.graph:1:17: error: expected '=' after graph attribute 'unroll', found 1"},
    {"graph g (unroll = 1",
     "t.graph:1:20: error: expected ')' to close '(' at 1:9, found end of file"},
    {"graph g ()", "t.graph:1:10: error: expected an attribute name, found ')'"},
    {"graph g (a = 1 b = 2)", "t.graph:1:16: error: expected ')' to close '(' at 1:9, found 'b'"},
    {"graph g (state = 1)",
     "t.graph:1:10: error: expected an attribute name, found keyword 'state'"},
    {"state h : f32[B] = 0.0",
     "t.graph:1:20: error: expected 0, input or param after '=' in state 'h', found 0.0"},
    {"state h0 : f32[B] = zeros",
     "t.graph:1:21: error: expected 0, input or param after '=' in state 'h0', found 'zeros'"},
    {"state h : f32[B]",
     "t.graph:1:17: error: expected '=' after the type of state 'h', found end of file"},
    {"state h f32[B] = 0", "t.graph:1:9: error: expected ':' after state name 'h', found 'f32'"},
    {"state h : f32[B] = param zeros",
     "t.graph:1:26: error: expected 'init' after 'param' in state 'h', found 'zeros'"},
    {"state h : f32[B] = param init 5",
     "t.graph:1:31: error: expected an initializer such as xavier or normal(0, 0.1), found 5"},
    {"state : f32[B] = 0", "t.graph:1:7: error: expected a name, found ':'"},
    {"def f(x) { import \"a.graph\" }",
     "t.graph:1:12: error: 'import' is not allowed inside a def"},
    {"def f(x) {\n  state h : f32[] = 0\n}",
     "t.graph:2:3: error: 'state' is not allowed inside a def"},
    {"def f(x) { yield x }", "t.graph:1:12: error: 'yield' outside a loop body"},
    /* loops: header */
    {"x = loop 1 over y { yield y }",
     "t.graph:1:10: error: expected a loop index such as t after 'loop', found 1"},
    {"x = loop t in y { yield y }",
     "t.graph:1:12: error: expected 'over' after loop index 't', found 'in'"},
    {"x = loop t reverse over y { yield y }",
     "t.graph:1:12: error: expected 'over' after loop index 't', found keyword 'reverse'"},
    {"x = loop t over { yield y }", "t.graph:1:17: error: expected an expression, found '{'"},
    {"x = loop t over y foo { yield y }",
     "t.graph:1:19: error: expected '{' to begin the loop body, found 'foo'"},
    {"x = loop t over y",
     "t.graph:1:18: error: expected '{' to begin the loop body, found end of file"},
    {"x = loop t over y reverse reverse { yield y }", "t.graph:1:27: error: 'reverse' given twice"},
    {"x = loop t over y axis 0 reverse axis 1 { yield y }",
     "t.graph:1:34: error: 'axis' given twice"},
    {"x = loop t over y mask m reverse mask m { yield y }",
     "t.graph:1:34: error: 'mask' given twice"},
    {"x = loop t over y carry (h = 0) carry (c = 0) { }",
     "t.graph:1:33: error: 'carry' given twice"},
    {"x = loop t over y axis 1.5 { yield y }",
     "t.graph:1:24: error: expected an axis such as 0 or 1, found 1.5"},
    {"x = loop t over y axis { yield y }",
     "t.graph:1:24: error: expected an axis such as 0 or 1, found '{'"},
    {"x = loop t over y axis f(1) { yield y }",
     "t.graph:1:25: error: calls are not allowed in a loop axis"},
    {"x = loop t over y axis x[0] { yield y }",
     "t.graph:1:25: error: indexing is not allowed in a loop axis"},
    {"x = loop t over y mask { yield y }",
     "t.graph:1:24: error: expected an expression, found '{'"},
    {"x = loop t over y carry h = 0 { }",
     "t.graph:1:25: error: expected '(' after 'carry', found 'h'"},
    {"x = loop t over y carry (h) { }",
     "t.graph:1:27: error: expected '=' after carry 'h', found ')'"},
    {"x = loop t over y carry () { }", "t.graph:1:26: error: expected a name, found ')'"},
    {"x = loop t over y carry (h = 0 c = 0) { }",
     "t.graph:1:32: error: expected ')' to close '(' at 1:25, found 'c'"},
    /* loops: body */
    {"x = loop t over y { yield y",
     "t.graph:1:28: error: expected '}' to close '{' at 1:19, found end of file"},
    {"x = loop t over y {\n  z = 1",
     "t.graph:2:8: error: expected '}' to close '{' at 1:19, found end of file"},
    {"x = loop t over y {\n  yield y\n  z = 1\n}",
     "t.graph:3:3: error: nothing may follow 'yield' in a loop body"},
    {"x = loop t over y { yield y yield y }",
     "t.graph:1:29: error: nothing may follow 'yield' in a loop body"},
    {"x = loop t over y { yield }", "t.graph:1:27: error: expected an expression, found '}'"},
    {"x = loop t over y { yield y, }", "t.graph:1:30: error: expected an expression, found '}'"},
    {"x = loop t over y { yield y $ }", "t.graph:1:29: error: unexpected character '$'"},
    {"x = loop t over y { z = 1 }", "t.graph:1:5: error: a loop needs a carry or a yield"},
    {"output o = loop t over y { }", "t.graph:1:12: error: a loop needs a carry or a yield"},
    {"x = loop t over y { param W : f32[] init zeros }",
     "t.graph:1:21: error: 'param' is not allowed inside a loop body"},
    {"x = loop t over y { return y }",
     "t.graph:1:21: error: 'return' is not allowed inside a loop body"},
    {"x = loop t over y { def g(a) { return a } }",
     "t.graph:1:21: error: 'def' is not allowed inside a loop body"},
    {"x = loop t over y { output y }",
     "t.graph:1:21: error: 'output' is not allowed inside a loop body"},
    {"x = loop t over y { state s : f32[] = 0 }",
     "t.graph:1:21: error: 'state' is not allowed inside a loop body"},
    {"x = loop t over y { import \"a.graph\" }",
     "t.graph:1:21: error: 'import' is not allowed inside a loop body"},
    {"x = loop t over y { train { } }",
     "t.graph:1:21: error: 'train' is not allowed inside a loop body"},
    {"x = loop t over y { dim D = 2 }",
     "t.graph:1:21: error: 'dim' is not allowed inside a loop body"},
    {"x = loop t over y { graph g }",
     "t.graph:1:21: error: 'graph' is not allowed inside a loop body"},
    {"x = loop t over y { input i : f32[] }",
     "t.graph:1:21: error: 'input' is not allowed inside a loop body"},
    {"x = loop t over y { carry = 1 }",
     "t.graph:1:21: error: expected a statement or '}', found keyword 'carry'"},
    {"x = loop t over y { 3 }", "t.graph:1:21: error: expected a statement or '}', found 3"},
    /* loops: where a loop may be */
    {"x = loop t over y { z = loop s over y { yield y } yield z }",
     "t.graph:1:25: error: loops cannot be nested"},
    {"x = loop t over y { loop s over y { yield y } }",
     "t.graph:1:21: error: loops cannot be nested"},
    {"x = loop t over y { z = 1 + loop s over y { yield y } yield z }",
     "t.graph:1:29: error: loops cannot be nested"},
    {"x = loop t over y mask loop { yield y }", "t.graph:1:24: error: loops cannot be nested"},
    {"x = 1 + loop t over y { yield y }",
     "t.graph:1:9: error: a loop must be the whole right-hand side of an assignment"},
    {"x = f(loop t over y { yield y })",
     "t.graph:1:7: error: a loop must be the whole right-hand side of an assignment"},
    {"x = (loop t over y { yield y })",
     "t.graph:1:6: error: a loop must be the whole right-hand side of an assignment"},
    {"x = loop t over y { yield y } + 1",
     "t.graph:1:31: error: a loop must be the whole right-hand side of an assignment"},
    {"x = loop t over y { yield y }[0]",
     "t.graph:1:30: error: a loop must be the whole right-hand side of an assignment"},
    {"def f(y) { return loop t over y { yield y } }",
     "t.graph:1:19: error: a loop must be the whole right-hand side of an assignment"},
    {"train { k = loop t over y { yield y } }",
     "t.graph:1:13: error: a loop must be the whole right-hand side of an assignment"},
    {"dim T = loop",
     "t.graph:1:9: error: expected a dimension such as 64 or H, found keyword 'loop'"},
    {"over = 1", "t.graph:1:1: error: expected a statement, found keyword 'over'"},
    {"x = reverse", "t.graph:1:5: error: expected an expression, found keyword 'reverse'"},
    {"a, yield = f(x)", "t.graph:1:4: error: expected a name, found keyword 'yield'"},
    /* lexical errors */
    {"x = $", "t.graph:1:5: error: unexpected character '$'"},
    {"x = .", "t.graph:1:5: error: unexpected character '.'"},
    {"x = a \xc3\x97 b", "t.graph:1:7: error: unexpected character '\xc3\x97' (U+00D7)"},
    {"x = a \xff b", "t.graph:1:7: error: unexpected character '\\xff'"},
    {"x = a \xc3", "t.graph:1:7: error: unexpected character '\\xc3'"},
    {"x = a\x01", "t.graph:1:6: error: unexpected character '\\x01'"},
    {"x = \"abc", "t.graph:1:5: error: unterminated string"},
    {"x = \"ab\ncd\"", "t.graph:1:5: error: unterminated string"},
    {"x = \"ab\\", "t.graph:1:5: error: unterminated string"},
    {"x = \"a\\qb\"", "t.graph:1:7: error: invalid escape '\\q' in string"},
    {"x = \"a\x01\"", "t.graph:1:7: error: unexpected character '\\x01' in string"},
    {"x = \"a\xe2\x82\"", "t.graph:1:7: error: unexpected character '\\xe2' in string"},
    {"x = 99999999999999999999", "t.graph:1:5: error: integer literal too large"},
    {"x = 1e999", "t.graph:1:5: error: number literal too large"},
    {"x = 4H", "t.graph:1:5: error: malformed number '4H' (write 4*H to multiply)"},
    {"x = 1e", "t.graph:1:5: error: malformed number '1e'"},
    {"x = 1e+", "t.graph:1:5: error: malformed number '1e'"},
    {"x = 1_000", "t.graph:1:5: error: malformed number '1_000'"},
    {"param W : f32[E, 4H]",
     "t.graph:1:18: error: malformed number '4H' (write 4*H to multiply)"},
    {"x = 1.5.2", "t.graph:1:5: error: malformed number '1.5.2'"},
    {"x = 2.5e", "t.graph:1:5: error: malformed number '2.5e'"},
    /* the earlier error wins even when the parser has already peeked at a bad character */
    {"x = f(1 $", "t.graph:1:9: error: unexpected character '$'"},
    {"x = 1 ) $", "t.graph:1:7: error: expected a statement, found ')'"},
    {"x $", "t.graph:1:3: error: unexpected character '$'"},
    /* long names are cut in messages */
    {"x = 1 aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd",
     "t.graph:1:47: error: expected '=' or ',' after 'aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd', "
     "found end of file"},
    {"x = 1 2 aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd",
     "t.graph:1:7: error: expected a statement, found 2"},
    {"x = ) aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeee",
     "t.graph:1:5: error: expected an expression, found ')'"},
    {"x = f(aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeee",
     "t.graph:1:52: error: expected ')' to close '(' at 1:6, found end of file"},
    {"a, aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeee",
     "t.graph:1:49: error: expected '=' or ',' after "
     "'aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeee', found end of file"},
    {"x = 1 ) aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeee",
     "t.graph:1:7: error: expected a statement, found ')'"},
    {"x = y z aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeee",
     "t.graph:1:9: error: expected '=' or ',' after 'z', "
     "found 'aaaaaaaaaabbbbbbbbbbccccccccccddddddd...'"},
};

static void test_parse_error_messages(void **state) {
    int n = (int)(sizeof error_cases / sizeof error_cases[0]);
    int bad = 0;
    assert_true(n >= 30);
    for (int i = 0; i < n; i++) {
        gx_ast_module *m = (gx_ast_module *)&m;   /* must be reset to NULL */
        gx_diag d;
        gx_status st = parse_s(error_cases[i].src, &m, &d);
        if (st != GX_ERR_PARSE || m != NULL || d.status != GX_ERR_PARSE ||
            strcmp(d.msg, error_cases[i].msg) != 0) {
            print_error("case %d: %s\n  expected: %s\n  got (%d): %s\n", i, error_cases[i].src,
                        error_cases[i].msg, (int)st, d.msg);
            if (st == GX_OK) gx_ast_free(m);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

// ---- robustness ----

/* A parse that fails must fail with a message naming the file, and leave no module behind. */
static void check_clean(const char *buf, size_t n, const char *file) {
    gx_ast_module *m = (gx_ast_module *)&m;
    gx_diag d;
    gx_status st = parse_n(buf, n, file, &m, &d);
    if (st == GX_OK) {
        assert_non_null(m);
        char *text = ast_text(m);   /* the printer must cope with whatever parsed */
        free(text);
        gx_ast_free(m);
        return;
    }
    assert_null(m);
    assert_int_equal(d.status, st);
    size_t fl = strlen(file);
    if (strncmp(d.msg, file, fl) != 0 || d.msg[fl] != ':' || strstr(d.msg, "error: ") == NULL ||
        strlen(strstr(d.msg, "error: ")) <= 7)
        fail_msg("bad message for input of %zu bytes: '%s'", n, d.msg);
}

/* what the prefix and mutation tests start from: every construct of the language */
static const char *const corpora[] = {valid_src, lstm_src};

static void test_parse_every_prefix(void **state) {
    for (size_t c = 0; c < sizeof corpora / sizeof corpora[0]; c++) {
        size_t n = strlen(corpora[c]);
        for (size_t k = 0; k <= n; k++) check_clean(corpora[c], k, "prefix.graph");
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t bound) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33) % bound;
}

static void test_parse_fuzz(void **state) {
    static const char *const pieces[] = {
        "(", ")", "[", "]", "{", "}", ",", "=", ":", "-", "@", "\"", "\\", "#", "\n", "\t",
        "def ", "return ", "loop ", "train ", "probe ", "init ", "f32[", "1e", ".5", "x",
        "9999999999999999999999", "\"a\\", "\xff", "\xc3", "\xe2\x82\xac", "-(", "a = ", "a, b",
        "over ", "yield ", "carry (", "reverse ", "axis ", "mask ", "state ", "import ", "= 0",
        "= input", "= param init ", "h = loop t over x { yield x } ", "graph g (",
    };
    size_t cap = 0;
    for (size_t c = 0; c < sizeof corpora / sizeof corpora[0]; c++)
        if (strlen(corpora[c]) * 4 + 64 > cap) cap = strlen(corpora[c]) * 4 + 64;
    char *buf = malloc(cap);
    assert_non_null(buf);
    int ok = 0, total = 0;
    for (int iter = 0; iter < 40000; iter++) {
        /* each corpus in turn, 20000 mutants of each */
        const char *base = corpora[iter % (int)(sizeof corpora / sizeof corpora[0])];
        size_t base_n = strlen(base);
        total++;
        memcpy(buf, base, base_n);
        size_t n = base_n;
        int n_mut = 1 + (int)rnd(4);
        for (int k = 0; k < n_mut; k++) {
            size_t at = n ? rnd((uint32_t)n) : 0;
            switch (rnd(5)) {
            case 0: /* replace a byte with any byte, NUL included */
                if (n) buf[at] = (char)rnd(256);
                break;
            case 1: /* delete a range */
                if (n) {
                    size_t len = 1 + rnd(16);
                    if (len > n - at) len = n - at;
                    memmove(buf + at, buf + at + len, n - at - len);
                    n -= len;
                }
                break;
            case 2: { /* insert a token-ish piece */
                const char *piece = pieces[rnd(sizeof pieces / sizeof pieces[0])];
                size_t len = strlen(piece);
                if (n + len <= cap) {
                    memmove(buf + at + len, buf + at, n - at);
                    memcpy(buf + at, piece, len);
                    n += len;
                }
                break;
            }
            case 3: { /* duplicate a range elsewhere */
                size_t len = 1 + rnd(32), to = n ? rnd((uint32_t)n) : 0;
                if (len > n - at) len = n - at;
                if (n + len <= cap && len > 0) {
                    char tmp[32];
                    memcpy(tmp, buf + at, len);
                    memmove(buf + to + len, buf + to, n - to);
                    memcpy(buf + to, tmp, len);
                    n += len;
                }
                break;
            }
            default: /* truncate */
                n = at;
                break;
            }
        }
        gx_ast_module *m = NULL;
        gx_diag d;
        if (parse_n(buf, n, "fuzz.graph", &m, &d) == GX_OK) {
            ok++;
            free(ast_text(m));
            gx_ast_free(m);
        } else {
            check_clean(buf, n, "fuzz.graph");
        }
    }
    free(buf);
    print_message("fuzz: %d of %d mutants parsed\n", ok, total);
}

static void check_fails(const char *src, size_t n, const char *want) {
    gx_ast_module *m = (gx_ast_module *)&m;
    gx_diag d;
    assert_int_equal(parse_n(src, n, "deep.graph", &m, &d), GX_ERR_PARSE);
    assert_null(m);
    if (strcmp(d.msg, want) != 0) fail_msg("got '%s', expected '%s'", d.msg, want);
}

static void test_parse_deep_nesting(void **state) {
    const size_t depth = 100000;
    char *src = malloc(2 * depth + 16);
    assert_non_null(src);

    /* x = ((((...1...)))) */
    size_t n = 0;
    memcpy(src, "x = ", 4);
    n = 4;
    memset(src + n, '(', depth);
    n += depth;
    src[n++] = '1';
    memset(src + n, ')', depth);
    n += depth;
    check_fails(src, n,
                "deep.graph:1:261: error: expression nested too deeply (more than 256 levels)");
    /* 255 levels of parentheses still parse (the 256th level is the 1 inside them) */
    n = 4;
    memset(src + n, '(', 255);
    src[n + 255] = '1';
    memset(src + n + 256, ')', 255);
    gx_ast_module *m;
    gx_diag d;
    assert_int_equal(parse_n(src, n + 511, "deep.graph", &m, &d), GX_OK);
    gx_ast_free(m);

    /* x = - - - ... 1, x = [[[[..., x = f(f(f(... */
    n = 4;
    for (size_t i = 0; i < depth; i++) src[n++] = '-';
    src[n++] = 'y';
    check_fails(src, n,
                "deep.graph:1:261: error: expression nested too deeply (more than 256 levels)");
    n = 4;
    memset(src + n, '[', depth);
    check_fails(src, n + depth,
                "deep.graph:1:261: error: expression nested too deeply (more than 256 levels)");
    n = 4;
    for (size_t i = 0; i < depth / 2; i++) src[n++] = 'f', src[n++] = '(';
    check_fails(src, n,
                "deep.graph:1:517: error: expression nested too deeply (more than 256 levels)");

    /* the same bound holds inside a loop body and its yield */
    n = (size_t)sprintf(src, "x = loop t over y { z = ");
    size_t body = n;
    memset(src + n, '(', depth);
    n += depth;
    check_fails(src, n,
                "deep.graph:1:281: error: expression nested too deeply (more than 256 levels)");
    n = body - 4;
    n += (size_t)sprintf(src + n, "yield ");
    memset(src + n, '-', depth);
    n += depth;
    check_fails(src, n,
                "deep.graph:1:283: error: expression nested too deeply (more than 256 levels)");

    /* long operator chains and postfix chains nest the tree, not the parser */
    n = 4;
    src[n++] = '1';
    for (size_t i = 0; i < 5000; i++) src[n++] = '+', src[n++] = '1';
    check_fails(src, n,
                "deep.graph:1:2052: error: expression too long (more than 1024 levels deep); "
                "split it into several statements");
    n = 4;
    src[n++] = 'x';
    for (size_t i = 0; i < 5000; i++) src[n++] = '[', src[n++] = '0', src[n++] = ']';
    check_fails(src, n,
                "deep.graph:1:5: error: expression too long (more than 1024 levels deep); "
                "split it into several statements");
    free(src);
}

static void test_parse_huge_inputs(void **state) {
    gx_ast_module *m = (gx_ast_module *)&m;
    gx_diag d;
    size_t big = ((size_t)64 << 20) + 1;
    char *src = malloc(big);
    assert_non_null(src);
    memset(src, ' ', big);
    gx_diag_init(&d);
    assert_int_equal(gx_parse(src, big, "big.graph", &m, &d), GX_ERR_PARSE);
    assert_null(m);
    assert_string_equal(d.msg, "big.graph: error: file too large: 67108865 bytes (the limit is "
                               "64 MiB)");
    /* 64 MiB of blanks and a statement at the end: fine, and the line/column are right */
    gx_diag_init(&d);
    memcpy(src + big - 6, "\nx = 1", 6);
    assert_int_equal(gx_parse(src + 1, big - 1, "big.graph", &m, &d), GX_OK);
    assert_pos(m->stmts[0]->pos, 2, 1);
    gx_ast_free(m);

    /* a 1 MiB name, a 1 MiB string, a 100000-item list */
    size_t len = (size_t)1 << 20;
    memset(src, 'a', len);
    memcpy(src + len, " = 1", 4);
    assert_int_equal(parse_n(src, len + 4, "big.graph", &m, &d), GX_OK);
    assert_int_equal(strlen(m->stmts[0]->names[0]), len);
    gx_ast_free(m);
    memcpy(src, "x = \"", 5);
    src[len] = '"';
    assert_int_equal(parse_n(src, len + 1, "big.graph", &m, &d), GX_OK);
    assert_int_equal(strlen(m->stmts[0]->value->str), len - 5);
    gx_ast_free(m);
    size_t n = 0;
    n += (size_t)sprintf(src, "x = [0");
    for (int i = 1; i < 100000; i++) n += (size_t)sprintf(src + n, ", %d", i);
    src[n++] = ']';
    assert_int_equal(parse_n(src, n, "big.graph", &m, &d), GX_OK);
    assert_int_equal(m->stmts[0]->value->n_args, 100000);
    assert_int_equal(m->stmts[0]->value->args[99999].value->ival, 99999);
    gx_ast_free(m);
    free(src);
}

/* Size limits of lowering, found during the fuzzing work (issue 9; tests/fuzz/regress/graph/):
 * an unrolled loop over a time axis of 10^8 lowered for hours, growing the graph until memory
 * ran out; lowering now refuses more than 100000 unrolled steps, with the loop's position (shown
 * here with 10^6 steps, under the 10^7 any loop may run). Any graph stops at 2^20 nodes. */
static void test_parse_lower_size_limits(void **state) {
    static const char src[] =
        "graph u (unroll = 1)\n"
        "dim T = 1000000\n"
        "input xs : f32[1, T, 2]\n"
        "state h0 : f32[1, 2] = 0\n"
        "hs, hT = loop t over xs carry (h = h0) {\n"
        "    h = tanh(xs[t] + h)\n"
        "    yield h\n"
        "}\n"
        "output hT\n";
    gx_registry *reg = gx_registry_new();
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_registry_load_default(reg, NULL, &d), GX_OK);
    gx_ast_module *m = NULL;
    assert_int_equal(parse_n(src, sizeof src - 1, "u.graph", &m, &d), GX_OK);
    gx_graph *g = NULL;
    assert_int_equal(gx_lower(m, reg, NULL, 0, &g, &d), GX_ERR_SHAPE);
    assert_null(g);
    assert_string_equal(d.msg, "u.graph:5:10: error: cannot unroll a loop of 1000000 steps "
                               "(at most 100000; run it looped instead)");
    gx_ast_free(m);
    /* the same loop, looped, is one body */
    assert_int_equal(parse_n(src, sizeof src - 1, "u.graph", &m, &d), GX_OK);
    gx_lower_opts o = {.unroll = 0};
    assert_int_equal(gx_lower_with(m, reg, &o, &g, &d), GX_OK);
    gx_graph_free(g);

    /* tests/fuzz/regress/graph/defs-2e24-nodes.graph: defs that each call the one before
     * twice inline into 2^24 calls from a few lines; the graph stops at 2^20 nodes */
    char big[2048];
    size_t n = (size_t)snprintf(big, sizeof big, "input x : f32[2]\ndef f0(a) { return tanh(a) }\n");
    for (int i = 1; i < 25; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "def f%d(a) { return f%d(a) + f%d(a) }\n",
                              i, i - 1, i - 1);
    n += (size_t)snprintf(big + n, sizeof big - n, "y = f24(x)\noutput y\n");
    gx_diag_init(&d);
    assert_int_equal(parse_n(big, n, "e.graph", &m, &d), GX_OK);
    assert_int_equal(gx_lower(m, reg, NULL, 0, &g, &d), GX_ERR_INVALID);
    assert_null(g);
    assert_non_null(strstr(d.msg, "error: the graph is too large: more than 1048576 nodes"));
    gx_ast_free(m);
    gx_registry_free(reg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid_file),
        cmocka_unit_test(test_parse_recurrence_file),
        cmocka_unit_test(test_parse_loop_clause_words),
        cmocka_unit_test(test_parse_ownership_and_edges),
        cmocka_unit_test(test_parse_error_messages),
        cmocka_unit_test(test_parse_every_prefix),
        cmocka_unit_test(test_parse_fuzz),
        cmocka_unit_test(test_parse_deep_nesting),
        cmocka_unit_test(test_parse_huge_inputs),
        cmocka_unit_test(test_parse_lower_size_limits),
    };
    return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
