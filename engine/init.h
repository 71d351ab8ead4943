/*
 * init.h: the random number generator and parameter initialization.
 *
 * Each param draws from its own stream, seeded from (seed, param name), so adding a param to a
 * graph does not change the others' initial values. Schemes follow PyTorch's torch.nn.init;
 * gexec's weights are [in, out] (used as x @ W), so fan_in = dims[-2], fan_out = dims[-1]
 * (times the product of any leading dims as the receptive field, like PyTorch's conv weights).
 */
#ifndef GX_INIT_H
#define GX_INIT_H

#include "graph.h"

typedef struct gx_rng {
    uint64_t s[4];   /* xoshiro256** state */
} gx_rng;

void     gx_rng_seed(gx_rng *r, uint64_t seed);
uint64_t gx_rng_next(gx_rng *r);
double   gx_rng_uniform(gx_rng *r);   /* [0, 1) with 53 random bits */
double   gx_rng_normal(gx_rng *r);    /* standard normal (Box-Muller) */
uint64_t gx_hash_str(uint64_t h, const char *s);   /* FNV-1a, for per-name streams */

/* Fill dst (info's dtype and shape) with values drawn by `init`. */
gx_status gx_init_fill(const gx_init *init, const gx_tensor_info *info, uint64_t seed,
                       const char *name, void *dst, gx_diag *d);
const char *gx_init_name(gx_init_scheme s);

#endif
