/*
 * fuzz-checkpoint.c: arbitrary bytes as a checkpoint file (gx_checkpoint_read: the safetensors
 * layer, the gexec.* metadata, the graph hash, the vocabulary), then, for one that is accepted,
 * its dims and graph lowered the way `gexec sample` does it (B = T = 1 bound over the stored
 * dims), and every param matched against the checkpoint's tensor as feed_params would.
 */
#include "fuzz.h"

#include "lower.h"
#include "safetensors.h"
#include "train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gx_registry *reg;

int gx_fuzz_checkpoint_init(void) {
    reg = gx_fuzz_registry();
    return reg ? 0 : 1;
}

int gx_fuzz_checkpoint(const uint8_t *data, size_t size) {
    if (reg == NULL) abort();
    const char *path = gx_fuzz_tmpfile(".ckpt", data, size);
    if (path == NULL) return 0;
    gx_diag d;
    gx_diag_init(&d);
    gx_checkpoint *ck = NULL;
    gx_status st = gx_checkpoint_read(path, &ck, &d);
    gx_fuzz_check_msg("gx_checkpoint_read", st, d.msg);
    if (st != GX_OK) return 0;
    /* the vocabulary is sorted code points: every id decodes, every symbol finds its id */
    for (int32_t i = 0; i < ck->vocab.n; i++) {
        char buf[4];
        if (gx_vocab_decode(&ck->vocab, i, buf) == 0 || gx_vocab_id(&ck->vocab, ck->vocab.syms[i]) != i)
            abort();
    }
    gx_dim_binding over[2] = {{"B", 1}, {"T", 1}};
    gx_graph *g = NULL;
    st = gx_checkpoint_graph(ck, reg, over, 2, &g, &d);
    gx_fuzz_check_msg("gx_checkpoint_graph", st, d.msg);
    if (st == GX_OK) {
        for (int32_t i = 0; i < g->n_params; i++) {
            char key[256];
            snprintf(key, sizeof key, "param.%s", g->params[i].name);
            const gx_st_tensor *t = gx_st_find(ck->file, key);
            if (t && t->dtype == g->values[g->params[i].val].info.dtype) {
                volatile uint8_t sink = t->nbytes ? ((const uint8_t *)t->data)[t->nbytes - 1] : 0;
                (void)sink;
            }
        }
        gx_graph_free(g);
    }
    gx_checkpoint_free(ck);
    return 0;
}

GX_FUZZ_ENTRY(checkpoint)
