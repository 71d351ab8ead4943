/*
 * safetensors.h: a strict reader and an atomic writer for huggingface .safetensors files.
 *
 * Layout: an 8-byte little-endian u64 N, N bytes of JSON header
 *   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "value", ...}}
 * then the data section (offsets relative to its start, data little-endian and row-major).
 *
 * The reader accepts F32, F64 and I32 tensors, plus I64 which it converts to I32 at load (token
 * ids written by numpy/PyTorch); anything malformed is GX_ERR_FORMAT with a one-line message
 * naming the file and the tensor. It never reads out of bounds, on any input. The writer emits
 * tensors in the order they were added and pads the header with spaces to a multiple of 8 bytes,
 * like the reference implementation. Only little-endian hosts are supported (checked at run time).
 */
#ifndef GX_SAFETENSORS_H
#define GX_SAFETENSORS_H

#include <gexec/plugin.h>

#include "diag.h"

/* ---- reading ------------------------------------------------------------------------------ */

typedef struct gx_st_file gx_st_file;   /* a parsed file; owns copies of all tensor data */

/* One tensor of a file. Every pointer is owned by the gx_st_file and valid until gx_st_free.
 * `data` is 8-byte aligned and never NULL (even when nbytes == 0); nbytes is
 * numel(shape) * gx_dtype_size(dtype). An I64 tensor in the file appears here as I32. */
typedef struct gx_st_tensor {
    const char *name;
    gx_dtype    dtype;
    gx_shape    shape;
    const void *data;
    uint64_t    nbytes;
} gx_st_tensor;

/* Read and parse the whole file at `path` (which is also the name used in messages).
 * GX_OK with *out set, or GX_ERR_IO (cannot open/read), GX_ERR_FORMAT (malformed),
 * GX_ERR_NOMEM, GX_ERR_UNSUPPORTED (big-endian host); *out is NULL on failure. */
gx_status gx_st_read_file(const char *path, gx_st_file **out, gx_diag *d);

/* Parse a file image of n bytes; the bytes are copied, so the caller may free them at once.
 * display_name (may be NULL: "<memory>") prefixes messages. Statuses as gx_st_read_file. */
gx_status gx_st_parse(const void *bytes, size_t n, const char *display_name, gx_st_file **out,
                      gx_diag *d);

/* Tensors in data-section order (by data_offsets; ties, i.e. empty tensors, in header order).
 * gx_st_at returns NULL when i is out of range. */
int                 gx_st_count(const gx_st_file *f);
const gx_st_tensor *gx_st_at(const gx_st_file *f, int i);
/* The tensor called `name`, or NULL. */
const gx_st_tensor *gx_st_find(const gx_st_file *f, const char *name);

/* "__metadata__" entries, in header order. gx_st_meta returns the value of `key` or NULL;
 * gx_st_meta_at sets *key and *value (owned by f) and returns GX_OK, or GX_ERR_INVALID when i is
 * out of range. */
const char *gx_st_meta(const gx_st_file *f, const char *key);
int         gx_st_meta_count(const gx_st_file *f);
gx_status   gx_st_meta_at(const gx_st_file *f, int i, const char **key, const char **value);

/* Frees f and everything it owns; NULL is a no-op. */
void gx_st_free(gx_st_file *f);

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct gx_st_writer gx_st_writer;   /* tensors and metadata waiting to be saved */

/* NULL on out of memory. */
gx_st_writer *gx_st_writer_new(void);

/* Add a tensor; `name` and `data` (numel(shape) * gx_dtype_size(dtype) bytes; may be NULL when
 * that is 0) are copied. GX_ERR_DUPLICATE for a name already added, GX_ERR_INVALID for an empty,
 * non-UTF-8 or "__metadata__" name, a dtype other than F32/F64/I32, or a bad shape, GX_ERR_NOMEM. */
gx_status gx_st_writer_add(gx_st_writer *w, const char *name, gx_dtype dtype,
                           const gx_shape *shape, const void *data, gx_diag *d);

/* Set a "__metadata__" entry (both strings copied, UTF-8). Setting a key again replaces its
 * value in place. GX_ERR_INVALID for NULL or non-UTF-8 strings, GX_ERR_NOMEM. */
gx_status gx_st_writer_meta(gx_st_writer *w, const char *key, const char *value);

/* Write the file atomically: "<path>.tmp.<pid>" in the same directory, flushed and fsync'ed,
 * then renamed over `path`. On failure the temporary file is removed and `path` is untouched:
 * GX_ERR_IO (message with strerror), GX_ERR_INVALID (header over 100 MB), GX_ERR_NOMEM,
 * GX_ERR_UNSUPPORTED (big-endian host). The writer stays usable either way. */
gx_status gx_st_writer_save(const gx_st_writer *w, const char *path, gx_diag *d);

/* NULL is a no-op. */
void gx_st_writer_free(gx_st_writer *w);

#endif
