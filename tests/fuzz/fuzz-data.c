/*
 * fuzz-data.c: arbitrary bytes as a training data file, through the JSONL and text readers
 * (which take paths: the input goes to a scratch file). The first byte picks the options:
 *   bit 0: JSONL (.jsonl) or text (.txt)      bit 1: byte vocabulary (text)
 *   bits 2-3: batch 1..4                       bits 4-5: bptt 1..4
 *   bits 6-7: validation fraction 0, 0.1, 0.5, 1
 * the rest is the file. Every field the data set reports is then filled, for batches 0 and 1
 * of both splits, into a buffer of the shape the field says (padded axes: the T the data binds), the way
 * the trainer feeds a graph's inputs; text is encoded back through its vocabulary.
 */
#include "fuzz.h"

#include "data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gx_fuzz_data_init(void) { return 0; }

static void fill_all(gx_dataset *ds) {
    const gx_data_vt *vt = ds->vt;
    int32_t nf = vt->n_fields(ds);
    int64_t T = 5;   /* padded axes: the T the data binds, as the trainer does, or 5 */
    for (int32_t i = 0; i < vt->n_binds(ds); i++) {
        gx_dim_binding b = vt->bind(ds, i);
        if (b.name == NULL) abort();
        if (strcmp(b.name, "T") == 0 && b.value >= 1 && b.value <= 4096) T = b.value;
    }
    for (int32_t i = 0; i < nf; i++) {
        gx_data_field f = vt->field(ds, i);
        if (f.name == NULL || f.shape.ndim < 1 || f.shape.ndim > GX_MAX_DIMS) abort();
        gx_tensor_info info = {.dtype = f.dtype, .shape = f.shape};
        size_t numel = 1;
        for (int k = 0; k < f.shape.ndim; k++) {
            if (info.shape.dims[k] < 0) info.shape.dims[k] = T;
            numel *= (size_t)info.shape.dims[k];
        }
        /* a field as wide as the file is fine; a buffer past 64 MB means a bogus shape */
        if (numel > ((size_t)64 << 20) / 8) abort();
        void *dst = malloc(numel * 8 + 1);
        if (dst == NULL) return;
        for (int split = 0; split < 2; split++) {
            for (uint64_t index = 0; index < 2; index++) {
                gx_diag d;
                gx_diag_init(&d);
                gx_status st = vt->fill(ds, (gx_split)split, index, f.name, &info, dst, &d);
                gx_fuzz_check_msg("fill", st, d.msg);
            }
        }
        free(dst);
    }
}

int gx_fuzz_data(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const double val_fracs[4] = {0.0, 0.1, 0.5, 1.0};
    uint8_t opt = data[0];
    int jsonl = opt & 1;
    gx_data_opts o = {.val_frac = val_fracs[(opt >> 6) & 3], .bytes = (opt >> 1) & 1,
                      .seed = 1, .batch = 1 + ((opt >> 2) & 3), .bptt = 1 + ((opt >> 4) & 3)};
    const char *path = gx_fuzz_tmpfile(jsonl ? ".jsonl" : ".txt", data + 1, size - 1);
    if (path == NULL) return 0;
    gx_diag d;
    gx_diag_init(&d);
    gx_dataset *ds = NULL;
    gx_status st = gx_data_open(path, &o, &ds, &d);
    gx_fuzz_check_msg("gx_data_open", st, d.msg);
    if (st != GX_OK) return 0;
    fill_all(ds);
    const gx_vocab *v = gx_data_vocab(ds);
    if (v != NULL && size > 1) {
        int32_t *ids = malloc((size - 1) * sizeof *ids);
        size_t n_ids = 0;
        if (ids) {
            gx_diag_init(&d);
            st = gx_vocab_encode(v, (const char *)data + 1, size - 1, ids, &n_ids, &d);
            gx_fuzz_check_msg("gx_vocab_encode", st, d.msg);
            for (size_t i = 0; st == GX_OK && i < n_ids; i++) {
                char buf[4];
                if (gx_vocab_decode(v, ids[i], buf) == 0) abort();
            }
            free(ids);
        }
    }
    gx_data_free(ds);
    return 0;
}

GX_FUZZ_ENTRY(data)
