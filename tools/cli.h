/*
 * cli.h: what the gexec subcommands share: option parsing, loading plugins and graphs, and
 * moving tensors between safetensors files and a planned graph. tools/ may print and exit;
 * the library never does.
 */
#ifndef GX_CLI_H
#define GX_CLI_H

#include "exec.h"
#include "lower.h"
#include "registry.h"
#include "safetensors.h"
#include "train.h"

#include <stdio.h>

#define CLI_MAX_DIMS 32

/* options common to the verbs that take a graph */
#define CLI_MAX_EXTRA 64
#define CLI_MAX_ARGS  64

typedef struct cli_opts {
    const char    *graph;          /* FILE.graph (positional)            */
    const char    *params;         /* --params P.safetensors             */
    const char    *inputs;         /* --inputs I.safetensors             */
    const char    *out;            /* --out O.safetensors                */
    const char    *backend;        /* --backend NAME                     */
    uint64_t       seed;           /* --seed S                           */
    int            seed_given;
    int            backward;       /* dot: --backward                    */
    int            unroll;         /* --unroll: 1, else -1 (the graph's) */
    int            train;          /* lower as a training graph (dropout acts) */
    /* options of verbs with their own settings (train, sample, eval), parsed by the verb:
     * the option's name and its value (NULL for a flag) */
    const char    *extra_name[CLI_MAX_EXTRA], *extra_val[CLI_MAX_EXTRA];
    int            n_extra;
    gx_dim_binding dims[CLI_MAX_DIMS];
    int            n_dims;         /* --dim NAME=VALUE                   */
    /* every positional argument, in order (a verb with needs_graph 2 takes several: report) */
    const char    *args[CLI_MAX_ARGS];
    int            n_args;
} cli_opts;

typedef struct cli_option {
    const char *name;     /* "--out"                                    */
    const char *arg;      /* "FILE" or NULL for a flag                  */
    const char *help;
} cli_option;

typedef struct cli_verb {
    const char       *name;
    const char       *usage;      /* "FILE.graph [options]"              */
    const char       *summary;
    const cli_option *options;    /* ends with {NULL}                    */
    int             (*run)(const cli_opts *o);
    int               needs_graph;  /* 1: one positional (o->graph); 2: one or more (o->args);
                                       3: any number, none included (o->args) */
} cli_verb;

/* Parse argv for `verb`; prints the error or the help and returns 0 (exit with *exit_code). */
int  cli_parse(const cli_verb *verb, int argc, char **argv, cli_opts *o, int *exit_code);
void cli_print_help(const cli_verb *verb, FILE *f);
/* print "gexec: error: ..." (the diag's message) and return 1 */
int  cli_fail(const gx_diag *d);
int  cli_failf(const char *fmt, ...) GX_PRINTF(1, 2);
/* Ranks of a distributed run: with capture on, cli_fail and cli_failf keep their first
 * message (cli_captured) instead of printing it, so that only one rank prints an error every
 * rank had. A prefix ("rank 1: ") goes after "gexec: " in what is printed. */
void cli_error_capture(int on);
const char *cli_captured(void);
void cli_error_prefix(const char *prefix);

/* a registry with the built-in and GEXEC_PLUGIN_PATH plugins; NULL (message printed) on error */
gx_registry *cli_registry(void);
/* load o->graph with o->dims, plus dims bound from the shapes in `inputs` (may be NULL) */
gx_status cli_load_graph(gx_registry *reg, const cli_opts *o, const gx_st_file *inputs,
                         gx_graph **g, gx_diag *d);
/* the registry and o->graph, for verbs that need no inputs: 0, or the exit code after the
 * message was printed (nothing is left to free then) */
int cli_open(const cli_opts *o, gx_registry **reg, gx_graph **g);
/* write every tensor of `list` (inputs or params) from the file into the plan */
gx_status cli_feed(gx_exec *e, const gx_graph *g, const gx_named *list, int32_t n,
                   const gx_st_file *f, const char *file_name, const char *what, gx_diag *d);
/* gx_st_writer with every graph output read back from the plan */
gx_status cli_save_outputs(gx_exec *e, const gx_graph *g, const char *path, gx_diag *d);

/* number flags of the training verbs: a value in [lo, hi] / a whole number >= lo; 0 after
 * printing "gexec VERB: FLAG wants ..." */
int cli_parse_num(const char *verb, const char *flag, const char *s, double lo, double hi,
                  double *out);
int cli_parse_count(const char *verb, const char *flag, const char *s, int64_t lo, int64_t *out);

/* The trainer of o->graph for a verb that trains (train, bench): the graph's train block, then
 * `flags` over it (the verb's own options; 0 when it printed an error). Returns 0 with *reg
 * and *t set (the caller frees both), else the exit code after the message was printed. */
typedef int (*cli_train_flags)(const cli_opts *o, gx_train_config *c, void *user);
/* the same from graph text (a checkpoint's), resuming from `resume` when not NULL */
int cli_trainer_text(const cli_opts *o, const char *path, const char *src, size_t n,
                     const char *resume, cli_train_flags flags, void *user, gx_train_config *c,
                     gx_registry **reg, gx_trainer **t);
int cli_trainer(const cli_opts *o, cli_train_flags flags, void *user, gx_train_config *c,
                gx_registry **reg, gx_trainer **t);

int cmd_check(const cli_opts *o);
int cmd_train(const cli_opts *o);
int cmd_diag(const cli_opts *o);
int cmd_sample(const cli_opts *o);
int cmd_eval(const cli_opts *o);
int cmd_dot(const cli_opts *o);
int cmd_init(const cli_opts *o);
int cmd_run(const cli_opts *o);
int cmd_grad(const cli_opts *o);
int cmd_plugins(const cli_opts *o);
int cmd_check_op(const cli_opts *o);

#endif
