/*
 * data.h: training data sets. A data set feeds a graph's inputs by name, one batch at a time,
 * for the trainer (`gexec train`, `gexec eval`). Three kinds share this interface:
 *
 *   text   a plain text file, character level (UTF-8 code points, or bytes with `bytes = 1`).
 *          Provides `tokens` and `targets` (i32[B, T], targets = tokens shifted by one) and binds
 *          the dim V (vocabulary size). The training part is cut into B parallel streams, each a
 *          contiguous stretch of the text; batch k holds chunk k of every stream, so the state
 *          a graph carries from batch k is the right start for batch k + 1 (stateful).
 *   jsonl  one JSON object per line; each field feeds the graph input of the same name (a number,
 *          a list of numbers, or a list of lists). Sequences shorter than the input's time axis
 *          (axis 1) are zero-padded; a graph input `mask` (f32[B, T]) or `lengths` (i32[B]) that
 *          the file does not provide is made from the length of the sequence fields.
 *   task   a synthetic task generated from the seed (copy, parity, adding; and the seq2seq
 *          tasks reverse and sort, whose validation batches decode greedily); see data-task.c.
 *
 * Batches are a pure function of (data set, split, batch index): the trainer's data cursor is
 * the batch index, so a resumed run sees exactly the batches it would have seen.
 * Every error is a gx_diag with `file:line:col: error:` where there is a position.
 */
#ifndef GX_DATA_H
#define GX_DATA_H

#include "diag.h"
#include "lower.h"

typedef enum gx_split { GX_SPLIT_TRAIN = 0, GX_SPLIT_VAL = 1 } gx_split;

typedef struct gx_data_opts {
    double   val_frac;   /* fraction held out for validation (text: the last part; jsonl: the
                            last lines); 1.0: all of it is validation (gexec eval) */
    int      bytes;      /* text: byte vocabulary instead of UTF-8 code points */
    uint64_t seed;       /* task generation, jsonl shuffling */
    int64_t  batch;      /* B */
    int64_t  bptt;       /* T for text and tasks that have no length of their own; 0: not given */
    const struct gx_vocab *vocab;   /* text: use this vocabulary (from a checkpoint) instead of
                                       building one; a symbol outside it is an error */
} gx_data_opts;

/* One field a data set provides, for matching against the graph's inputs. shape is the full
 * batch shape ([B, ...]); a dim of -1 means "whatever the graph says" (padded axes). */
typedef struct gx_data_field {
    const char *name;
    gx_dtype    dtype;
    gx_shape    shape;
} gx_data_field;

typedef struct gx_dataset gx_dataset;

typedef struct gx_data_vt {
    const char *kind;
    /* dims the data fixes (V for text; T, I, V for tasks) */
    int32_t (*n_binds)(const gx_dataset *ds);
    gx_dim_binding (*bind)(const gx_dataset *ds, int32_t i);
    int32_t (*n_fields)(const gx_dataset *ds);
    /* jsonl: an all-integer field says i32 but also fills f32 and f64 inputs */
    gx_data_field (*field)(const gx_dataset *ds, int32_t i);
    /* batches per pass over the split (an epoch); tasks: a fixed number per "epoch" */
    uint64_t (*n_batches)(const gx_dataset *ds, gx_split split);
    /* 1: state carries from batch k to k + 1 and resets at k % n_batches == 0 (text);
     * 0: every batch starts from zero state */
    int (*stateful)(const gx_dataset *ds);
    /* write field `name` of batch `index` (taken modulo n_batches) into dst, whose dtype and
     * shape are the graph input's (info); a mismatch the data cannot fill is an error.
     * The epoch, index / n_batches, may still matter: jsonl draws a new training order per
     * epoch, and tasks draw fresh training examples for every index (validation repeats). */
    gx_status (*fill)(gx_dataset *ds, gx_split split, uint64_t index, const char *name,
                      const gx_tensor_info *info, void *dst, gx_diag *d);
    void (*free)(gx_dataset *ds);
} gx_data_vt;

struct gx_dataset {
    const gx_data_vt *vt;
    char             *source;   /* the path or task spec (owned) */
};

/* Open `path` as text (any extension but .jsonl) or JSONL (.jsonl). */
gx_status gx_data_open(const char *path, const gx_data_opts *o, gx_dataset **out, gx_diag *d);
/* A synthetic task: "copy", "copy:gap=20,length=5,symbols=8", "parity:length=10",
 * "adding:length=50", "reverse:min=1,max=12,eval_min=9,eval_max=12" (or "sort:..."). Unknown
 * tasks or keys are errors that list what exists. */
gx_status gx_data_task(const char *spec, const gx_data_opts *o, gx_dataset **out, gx_diag *d);
void      gx_data_free(gx_dataset *ds);

/* ---- seq2seq tasks (reverse, sort; data-task.c): prompts for `gexec sample` ---- */

/* The vocabulary of a seq2seq task: ids [0, n_symbols) are the symbols (the digits), then the
 * markers pad, bos, eos; max_len is S, the longest source. */
typedef struct gx_task_codec {
    int32_t n_symbols, pad, bos, eos;
    int64_t max_len;
} gx_task_codec;

/* 1 and *out filled when ds is a seq2seq task, else 0 */
int gx_data_task_codec(const gx_dataset *ds, gx_task_codec *out);
/* Fill graph input `name` (src, mask, dec_in, targets, force) as a validation batch would be,
 * every row holding the source `text` (digits only, 1 to S of them): force is 1 at t = 0 only,
 * so the graph decodes greedily. A symbol outside the vocabulary, an empty or too long text,
 * an unknown field or a shape the task cannot fill is an error. */
gx_status gx_data_task_prompt(gx_dataset *ds, const char *text, const char *name,
                              const gx_tensor_info *info, void *dst, gx_diag *d);
/* The text of ids[0 .. n) up to the first EOS: digits as themselves, PAD and BOS as <pad> and
 * <bos>, anything else <?>; NUL-terminated in out (cap bytes), returns its length. */
size_t gx_data_task_decode(const gx_dataset *ds, const int32_t *ids, int64_t n, char *out,
                           size_t cap);

/* ---- text specifics (sampling and checkpoints need the vocabulary) ---- */

/* The vocabulary of a text data set: n symbols, symbol i is code point (or byte) syms[i],
 * sorted ascending. NULL for other kinds. */
typedef struct gx_vocab {
    int32_t   n;
    uint32_t *syms;
    int       bytes;
} gx_vocab;

const gx_vocab *gx_data_vocab(const gx_dataset *ds);
/* Token id of a symbol, -1 when it is not in the vocabulary. */
int32_t gx_vocab_id(const gx_vocab *v, uint32_t sym);
/* Encode UTF-8 (or bytes) text into ids; a symbol not in the vocabulary is an error naming it
 * and its offset. *n_ids receives the count; ids must hold at least len entries. */
gx_status gx_vocab_encode(const gx_vocab *v, const char *text, size_t len, int32_t *ids,
                          size_t *n_ids, gx_diag *d);
/* Append the UTF-8 (or byte) form of id to out (at most 4 bytes); returns the byte count. */
int gx_vocab_decode(const gx_vocab *v, int32_t id, char out[4]);

#endif
