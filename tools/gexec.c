/*
 * gexec.c: the command line: the verb table, option parsing, and the helpers the verbs share.
 * Each verb lives in its own cmd-*.c file.
 */
#include "cli.h"
#include "memlimit.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* cmd-bench.c (declared here rather than in cli.h, which the other verbs' files share) */
int cmd_bench(const cli_opts *o);
/* cmd-report.c, cmd-plot.c: readers of what gexec train --diag writes, and of CSV files */
int cmd_report(const cli_opts *o);
int cmd_plot(const cli_opts *o);

static const cli_option graph_opts[] = {
    {"--unroll", NULL, "expand loops into a flat graph instead of looping over the body"},
    {"--dim", "NAME=VALUE", "give a dim a value (repeatable); overrides the graph's value"},
    {NULL, NULL, NULL},
};
static const cli_option init_opts[] = {
    {"--seed", "S", "random seed (default 0)"},
    {"--out", "FILE", "where to write the parameters (.safetensors)"},
    {"--dim", "NAME=VALUE", "give a dim a value (repeatable)"},
    {"--max-memory", "SIZE", "the most memory params, inputs and plans may take (512M, 2G; default: physical memory)"},
    {NULL, NULL, NULL},
};
static const cli_option run_opts[] = {
    {"--params", "FILE", "parameters (.safetensors keyed by param name, or a checkpoint)"},
    {"--inputs", "FILE", "inputs (.safetensors, keyed by input name)"},
    {"--out", "FILE", "where to write the outputs (.safetensors)"},
    {"--backend", "NAME", "backend to run on (default: the best usable one)"},
    {"--unroll", NULL, "expand loops into a flat graph instead of looping over the body"},
    {"--dim", "NAME=VALUE", "give a dim a value (repeatable); dims without a value are also "
                            "taken from the input shapes"},
    {"--max-memory", "SIZE", "the most memory params, inputs and plans may take (512M, 2G; default: physical memory)"},
    {NULL, NULL, NULL},
};
static const cli_option dot_opts[] = {
    {"--backward", NULL, "also show the backward graph of the loss"},
    {"--unroll", NULL, "expand loops into a flat graph instead of looping over the body"},
    {"--dim", "NAME=VALUE", "give a dim a value (repeatable)"},
    {NULL, NULL, NULL},
};
static const cli_option no_opts[] = {{NULL, NULL, NULL}};
static const cli_option train_opts[] = {
    {"--data", "FILE", "training data: a text file (character level) or a .jsonl file"},
    {"--task", "SPEC", "a synthetic task instead: copy[:gap=20,length=5,symbols=8], "
                       "parity[:length=10], adding[:length=50], "
                       "reverse[:min=1,max=12,eval_min=9,eval_max=12], sort[:...]"},
    {"--steps", "N", "training steps (default: one epoch)"},
    {"--epochs", "N", "passes over the data, when --steps is not given"},
    {"--batch", "B", "sequences (text: parallel streams) per batch (binds dim B)"},
    {"--bptt", "T", "time steps per chunk, the truncated-BPTT length (binds dim T)"},
    {"--lr", "X", "learning rate"},
    {"--optimizer", "NAME", "sgd, adam, adamw or rmsprop (their PyTorch defaults)"},
    {"--momentum", "X", "momentum (sgd, rmsprop)"},
    {"--nesterov", NULL, "Nesterov momentum (sgd)"},
    {"--weight-decay", "X", "weight decay (adamw: decoupled; others: L2 in the gradient)"},
    {"--schedule", "NAME", "constant, cosine or step (see --step-every, --gamma)"},
    {"--warmup", "N", "linear learning-rate warm-up over N steps"},
    {"--step-every", "N", "step schedule: multiply the rate by --gamma every N steps"},
    {"--gamma", "X", "step schedule factor (default 0.1)"},
    {"--min-lr", "X", "cosine schedule: the rate at the last step (default 0)"},
    {"--clip", "X", "clip gradients to global norm X (the pre-clip norm is logged)"},
    {"--clip-value", "X", "clip every gradient element to [-X, X]"},
    {"--seed", "S", "random seed: initialisation, dropout, data order (default 0)"},
    {"--threads", "N", "worker threads of the CPU backend (default: all cores)"},
    {"--backend", "NAME", "backend to run on (default: the best usable one)"},
    {"--device", "N", "the GPU backend's device (an index `gexec plugins` lists; default: the best)"},
    {"--unroll", NULL, "expand loops into a flat graph instead of looping over the body"},
    {"--val-every", "N", "evaluate the held-out data every N steps (default: at the end)"},
    {"--val-batches", "N", "at most N validation batches per evaluation (default: all)"},
    {"--val-frac", "X", "fraction of the data held out for validation (default 0.05)"},
    {"--bytes", NULL, "text: a byte vocabulary instead of UTF-8 code points"},
    {"--checkpoint", "PATH", "write a checkpoint (safetensors) here, at the end and every "
                             "--checkpoint-every steps"},
    {"--checkpoint-every", "N", "checkpoint every N steps"},
    {"--resume", "CKPT", "continue the run saved in CKPT (same graph and data)"},
    {"--log-every", "N", "a log line every N steps when output is not a terminal (default 50)"},
    {"--quiet", NULL, "print only the final summary and errors"},
    {"--dim", "NAME=VALUE", "give a dim a value (repeatable)"},
    {"--diag", "DIR", "diagnostics: gate statistics, gradient norms (per param and through "
                      "time), spectral radius, into DIR/diag.jsonl and CSV (see gexec report)"},
    {"--diag-every", "N", "log diagnostics every N steps, from step 1 (default 10)"},
    {"--diag-buckets", "K", "gate statistics also per K buckets of time steps"},
    {"--tensorboard", "DIR", "write the diagnostics as TensorBoard event files in DIR"},
    {"--nan", "stop|skip", "a step whose loss or gradient is NaN/Inf: find the op and time step "
                           "that made it, then stop (default) or skip the step"},
    {"--max-memory", "SIZE", "the most memory params, inputs and plans may take (512M, 2G; default: physical memory)"},
    {"--distributed", NULL, "data-parallel training under mpirun: --batch per rank, gradients "
                            "averaged with MPI_Allreduce, rank 0 logs and checkpoints"},
    {"--dist-check", NULL, "distributed: check after every step that all ranks hold the same "
                           "params (a debugging aid)"},
    {"--dist-timeout", "S", "distributed: fail when the other ranks do not answer for S seconds "
                            "(default 300)"},
    {"--bucket-mb", "X", "distributed: gradients are averaged in buckets of X MiB (default 4)"},
    {NULL, NULL, NULL},
};
static const cli_option bench_opts[] = {
    {"--data", "FILE", "data to train on (default: the graph's train block)"},
    {"--task", "SPEC", "a synthetic task instead (as in gexec train)"},
    {"--steps", "N", "timed steps, training and inference each (default 20)"},
    {"--warmup", "N", "untimed steps before them (default 3)"},
    {"--batch", "B", "sequences per batch (binds dim B)"},
    {"--bptt", "T", "time steps per chunk (binds dim T)"},
    {"--threads", "N", "worker threads for the CPU backend"},
    {"--backend", "NAME", "backend to run on (default: the best usable one)"},
    {"--seed", "S", "random seed (default 0)"},
    {"--unroll", NULL, "expand loops into a flat graph instead of looping over the body"},
    {"--json", NULL, "print one JSON object on stdout instead of the text report"},
    {"--max-memory", "SIZE", "the most memory params, inputs and plans may take (512M, 2G; default: physical memory)"},
    {"--dim", "NAME=VALUE", "give a dim a value (repeatable)"},
    {NULL, NULL, NULL},
};
static const cli_option sample_opts[] = {
    {"--prime", "TEXT", "text to start from (default: a newline, or the first symbol); for a "
                        "seq2seq checkpoint (reverse, sort): the source to decode greedily"},
    {"--length", "N", "symbols to generate (default 500)"},
    {"--temperature", "X", "softmax temperature (default 1; lower is more conservative)"},
    {"--top-k", "K", "sample only among the K most likely symbols (default: all)"},
    {"--seed", "S", "random seed (default 0)"},
    {"--backend", "NAME", "backend to run on"},
    {NULL, NULL, NULL},
};
static const cli_option diag_opts[] = {
    {"--data", "FILE", "the data the batch comes from (text or .jsonl)"},
    {"--task", "SPEC", "a synthetic task instead (as in gexec train)"},
    {"--batch-index", "K", "which training batch (default 0)"},
    {"--diag", "DIR", "also write the record to DIR/diag.jsonl and CSV"},
    {"--save-batch", "FILE", "write the batch's data inputs (safetensors), for gexec grad"},
    {"--diag-buckets", "K", "gate statistics also per K buckets of time steps"},
    {"--dim", "NAME=VALUE", "give a dim a value (repeatable; a checkpoint's dims otherwise)"},
    {"--bytes", NULL, "text: a byte vocabulary (a fresh model)"},
    {"--seed", "S", "random seed of a fresh model's initialisation (default 0)"},
    {"--backend", "NAME", "backend to run on"},
    {NULL, NULL, NULL},
};
static const cli_option eval_opts[] = {
    {"--data", "FILE", "text to evaluate (the checkpoint's vocabulary)"},
    {"--all", NULL, "evaluate all of FILE, not only its held-out part"},
    {"--backend", "NAME", "backend to run on"},
    {NULL, NULL, NULL},
};

static const cli_option check_op_opts[] = {
    {"--all", NULL, "check every op of the loaded plugins"},
    {"--backend", "NAME", "compare only this backend with cpu-scalar (cpu-scalar: only its own "
                          "checks: gradients, f32 against f64, cells looped against unrolled)"},
    {"--seed", "N", "seed of the random data and shape variants (default 42)"},
    {"--shapes", "K", "random shape variants checked per example, besides its own (default 2)"},
    {NULL, NULL, NULL},
};

static const cli_option report_opts[] = {
    {"-o", "FILE", "where to write the page (default report.html)"},
    {"--out", "FILE", "the same as -o"},
    {NULL, NULL, NULL},
};
static const cli_option plot_opts[] = {
    {"-o", "FILE", "where to write the chart: NAME.svg, or NAME.html for a page (required)"},
    {"--x", "COL", "the column for x (required)"},
    {"--y", "COL", "the column for y (required)"},
    {"--series", "COL", "one line per value of this column"},
    {"--logx", NULL, "log10 x axis (rows with x <= 0 are skipped)"},
    {"--logy", NULL, "log10 y axis (rows with y <= 0 are skipped)"},
    {"--title", "T", "chart title (default: \"Y against X\")"},
    {"--xlabel", "L", "x axis label (default: the column's name)"},
    {"--ylabel", "L", "y axis label (default: the column's name)"},
    {NULL, NULL, NULL},
};

static const cli_verb verbs[] = {
    {"check", "FILE.graph [options]", "parse and infer a graph; print its inputs, params and "
     "outputs", graph_opts, cmd_check, 1},
    {"init", "FILE.graph --out P.safetensors [--seed S]", "write initialised parameters",
     init_opts, cmd_init, 1},
    {"run", "FILE.graph --inputs I.safetensors --out O.safetensors [--params P.safetensors]",
     "run the forward pass; write every output", run_opts, cmd_run, 1},
    {"grad", "FILE.graph --inputs I.safetensors --out O.safetensors [--params P.safetensors]",
     "run forward and backward; write the outputs and grad.<name> for every param and float "
     "input", run_opts, cmd_grad, 1},
    {"train", "FILE.graph --data FILE|--task SPEC [options]", "train a graph's params; "
     "progress, validation and checkpoints", train_opts, cmd_train, 1},
    {"diag", "CKPT|FILE.graph --data FILE [--batch-index K]", "diagnostics of one batch: "
     "gradient norms, gradient through time, gates, spectral radius (no update)", diag_opts,
     cmd_diag, 1},
    {"bench", "FILE.graph [--steps N] [--warmup N] [--threads N] [--json] [options]",
     "time training and inference steps: tokens/s, ms per step, GFLOP/s, peak memory",
     bench_opts, cmd_bench, 1},
    {"sample", "CKPT [--prime TEXT] [--length N] [--temperature T] [--top-k K]",
     "generate text from a character model, or decode a source with a seq2seq model",
     sample_opts, cmd_sample, 1},
    {"eval", "CKPT --data FILE [--all]", "loss of a checkpoint on text, in nats and bits per "
     "character", eval_opts, cmd_eval, 1},
    {"dot", "FILE.graph [--backward]", "print the graph as Graphviz text", dot_opts, cmd_dot, 1},
    {"report", "DIR [DIR2 ...] [-o report.html]", "charts of gexec train --diag directories as "
     "one HTML page (several runs overlaid)", report_opts, cmd_report, 2},
    {"plot", "FILE.csv -o plot.svg|plot.html --x COL --y COL [--series COL] [--logx] [--logy]",
     "a line chart of two columns of a CSV file with a header row", plot_opts, cmd_plot, 1},
    {"check-op", "NAME [NAME...] | --all [--backend B] [--seed N] [--shapes K]",
     "check ops: gradients against finite differences, f32 against f64, backends against "
     "cpu-scalar, cells looped against unrolled", check_op_opts, cmd_check_op, 3},
    {"plugins", "", "list loaded plugins, ops, backends and which (op, backend) pairs have "
     "kernels", no_opts, cmd_plugins, 0},
};
#define N_VERBS ((int)(sizeof verbs / sizeof verbs[0]))

static int capture_on;
static char captured[2048];
static const char *err_prefix = "";

void cli_error_capture(int on) {
    if (on && !capture_on) captured[0] = '\0';   /* turning it off keeps the message */
    capture_on = on;
}
const char *cli_captured(void) { return captured; }
void cli_error_prefix(const char *prefix) { err_prefix = prefix ? prefix : ""; }

int cli_fail(const gx_diag *d) {
    const char *msg = d->status != GX_OK ? d->msg : "error: failed";
    if (!capture_on) fprintf(stderr, "gexec: %s%s\n", err_prefix, msg);
    else if (captured[0] == '\0') snprintf(captured, sizeof captured, "%s", msg);
    return 1;
}

int cli_failf(const char *fmt, ...) {
    char msg[sizeof captured - 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!capture_on) fprintf(stderr, "gexec: %serror: %s\n", err_prefix, msg);
    else if (captured[0] == '\0') snprintf(captured, sizeof captured, "error: %s", msg);
    return 1;
}

void cli_print_help(const cli_verb *v, FILE *f) {
    fprintf(f, "usage: gexec %s %s\n\n%s\n", v->name, v->usage, v->summary);
    if (v->options[0].name) fprintf(f, "\noptions:\n");
    for (const cli_option *o = v->options; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-22s %s\n", left, o->help);
    }
    fprintf(f, "  %-22s %s\n", "-h, --help", "show this help");
}

static int parse_u64(const char *s, uint64_t *out) {
    if (s == NULL || *s == '\0' || *s == '-') return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}

int cli_parse(const cli_verb *v, int argc, char **argv, cli_opts *o, int *exit_code) {
    memset(o, 0, sizeof *o);
    o->unroll = -1;
    *exit_code = 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_print_help(v, stdout);
            *exit_code = 0;
            return 0;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if ((v->needs_graph == 2 || v->needs_graph == 3) && o->n_args < CLI_MAX_ARGS) {
                o->args[o->n_args++] = a;
                if (o->graph == NULL) o->graph = a;
                continue;
            }
            if (!v->needs_graph || o->graph) {
                cli_failf("gexec %s: unexpected argument '%s'", v->name, a);
                return 0;
            }
            o->graph = a;
            o->args[o->n_args++] = a;
            continue;
        }
        const cli_option *opt = NULL;
        for (const cli_option *p = v->options; p->name; p++)
            if (strcmp(p->name, a) == 0) opt = p;
        if (opt == NULL) {
            const char *names[64];
            int n = 0;
            for (const cli_option *p = v->options; p->name && n < 64; p++) names[n++] = p->name;
            const char *near = gx_nearest_name(a, names, n);
            cli_failf("gexec %s: unknown option '%s'%s%s%s (see gexec %s --help)", v->name, a,
                      near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "", v->name);
            return 0;
        }
        const char *arg = NULL;
        if (opt->arg) {
            if (i + 1 >= argc) {
                cli_failf("gexec %s: option '%s' needs a value (%s)", v->name, a, opt->arg);
                return 0;
            }
            arg = argv[++i];
        }
        if (strcmp(a, "--params") == 0) o->params = arg;
        else if (strcmp(a, "--inputs") == 0) o->inputs = arg;
        else if (strcmp(a, "--out") == 0) o->out = arg;
        else if (strcmp(a, "--backend") == 0) o->backend = arg;
        else if (strcmp(a, "--backward") == 0) o->backward = 1;
        else if (strcmp(a, "--unroll") == 0) o->unroll = 1;
        else if (strcmp(a, "--seed") == 0) {
            o->seed_given = 1;
            if (!parse_u64(arg, &o->seed)) {
                cli_failf("gexec %s: --seed wants a non-negative integer, got '%s'", v->name, arg);
                return 0;
            }
        } else if (strcmp(a, "--max-memory") == 0) {
            uint64_t bytes;
            if (!gx_parse_bytes(arg, &bytes)) {
                cli_failf("gexec %s: --max-memory wants a size such as 512M or 2G, got '%s'",
                          v->name, arg);
                return 0;
            }
            gx_set_memory_limit(bytes);
        } else if (strcmp(a, "--dim") == 0) {
            const char *eq = strchr(arg, '=');
            uint64_t val;
            if (eq == NULL || eq == arg || !parse_u64(eq + 1, &val) || val > (1ull << 40)) {
                cli_failf("gexec %s: --dim wants NAME=VALUE with a non-negative integer, got '%s'",
                          v->name, arg);
                return 0;
            }
            if (o->n_dims >= CLI_MAX_DIMS) {
                cli_failf("gexec %s: too many --dim options", v->name);
                return 0;
            }
            /* argv outlives the options: point into it, cutting at '=' in a copy */
            size_t len = (size_t)(eq - arg);
            char *name = malloc(len + 1);
            if (name == NULL) return 0;
            memcpy(name, arg, len);
            name[len] = '\0';
            o->dims[o->n_dims].name = name;
            o->dims[o->n_dims++].value = (int64_t)val;
        } else {
            if (o->n_extra >= CLI_MAX_EXTRA) {
                cli_failf("gexec %s: too many options", v->name);
                return 0;
            }
            o->extra_name[o->n_extra] = opt->name;
            o->extra_val[o->n_extra++] = arg;
        }
    }
    if ((v->needs_graph == 1 || v->needs_graph == 2) && o->graph == NULL) {
        /* the usage's first word names the positional: FILE.graph, CKPT, DIR, FILE.csv */
        cli_failf("gexec %s: missing %.*s (usage: gexec %s %s)", v->name,
                  (int)strcspn(v->usage, " "), v->usage, v->name, v->usage);
        return 0;
    }
    return 1;
}

static void free_opts(cli_opts *o) {
    for (int i = 0; i < o->n_dims; i++) free((void *)o->dims[i].name);
}

static void print_usage(FILE *f) {
    fprintf(f, "usage: gexec <command> [options]\n\ncommands:\n");
    for (int i = 0; i < N_VERBS; i++) fprintf(f, "  %-9s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(f, "\n`gexec <command> --help` describes one command.\n"
               "Plugins load from %s and from the directories in GEXEC_PLUGIN_PATH.\n",
            gx_registry_builtin_dir() ? gx_registry_builtin_dir() : "(unknown)");
}

int main(int argc, char **argv) {
    /* A write past RLIMIT_FSIZE (a disk quota, `ulimit -f`) must fail with EFBIG, which the
     * writers report with the file's name, instead of killing the process (SIGXFSZ). */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("gexec 0.1.0 (plugin ABI %d)\n", GX_ABI_VERSION);
        return 0;
    }
    for (int i = 0; i < N_VERBS; i++) {
        if (strcmp(argv[1], verbs[i].name) != 0) continue;
        cli_opts o;
        int code;
        if (!cli_parse(&verbs[i], argc - 2, argv + 2, &o, &code)) {
            free_opts(&o);
            return code;
        }
        code = verbs[i].run(&o);
        free_opts(&o);
        return code;
    }
    const char *names[N_VERBS];
    for (int i = 0; i < N_VERBS; i++) names[i] = verbs[i].name;
    const char *near = gx_nearest_name(argv[1], names, N_VERBS);
    cli_failf("unknown command '%s'%s%s%s (see gexec --help)", argv[1],
              near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    return 2;
}

/* ---- shared helpers ---- */

gx_registry *cli_registry(void) {
    gx_registry *r = gx_registry_new();
    if (r == NULL) {
        cli_failf("out of memory");
        return NULL;
    }
    gx_diag d;
    gx_diag_init(&d);
    if (gx_registry_load_default(r, NULL, &d) != GX_OK) {
        cli_fail(&d);
        gx_registry_free(r);
        return NULL;
    }
    return r;
}

static int shape_from_file(void *user, const char *input, gx_shape *shape) {
    const gx_st_tensor *t = gx_st_find((const gx_st_file *)user, input);
    if (t == NULL) return 0;
    *shape = t->shape;
    return 1;
}

gx_status cli_load_graph(gx_registry *reg, const cli_opts *o, const gx_st_file *inputs,
                         gx_graph **g, gx_diag *d) {
    char *src;
    size_t n;
    gx_status st = gx_read_file(o->graph, &src, &n, d);
    if (st != GX_OK) return st;
    gx_ast_module *m = NULL;
    st = gx_parse(src, n, o->graph, &m, d);
    free(src);
    if (st != GX_OK) return st;
    gx_dim_binding binds[CLI_MAX_DIMS * 2];
    int n_binds = o->n_dims;
    memcpy(binds, o->dims, sizeof(gx_dim_binding) * (size_t)o->n_dims);
    if (inputs)
        st = gx_bind_dims_from_inputs(m, shape_from_file, (void *)inputs, binds,
                                      CLI_MAX_DIMS * 2, &n_binds, d);
    gx_lower_opts lo = {.binds = binds, .n_binds = n_binds, .unroll = o->unroll, .train = o->train};
    if (st == GX_OK) st = gx_lower_with(m, reg, &lo, g, d);
    if (st != GX_OK) gx_ast_free(m);
    return st;
}

int cli_open(const cli_opts *o, gx_registry **reg, gx_graph **g) {
    *g = NULL;
    *reg = cli_registry();
    if (*reg == NULL) return 1;
    gx_diag d;
    gx_diag_init(&d);
    if (cli_load_graph(*reg, o, NULL, g, &d) != GX_OK) {
        gx_registry_free(*reg);
        *reg = NULL;
        return cli_fail(&d);
    }
    return 0;
}

gx_status cli_feed(gx_exec *e, const gx_graph *g, const gx_named *list, int32_t n,
                   const gx_st_file *f, const char *file_name, const char *what, gx_diag *d) {
    for (int32_t i = 0; i < n; i++) {
        const gx_value *v = &g->values[list[i].val];
        const gx_st_tensor *t = f ? gx_st_find(f, list[i].name) : NULL;
        char s1[128], s2[128];
        if (t == NULL && f) {   /* a checkpoint keys them "param.NAME" and "state.NAME" */
            snprintf(s1, sizeof s1, "%s.%s", strcmp(what, "param") == 0 ? "param" : "state",
                     list[i].name);
            t = gx_st_find(f, s1);
        }
        if (t == NULL && list[i].zero_default) {
            /* a `state x = 0` nobody fed: a fresh stream starts from zeros */
            uint64_t bytes = gx_value_bytes(v);
            void *zeros = calloc(1, bytes ? bytes : 1);
            if (zeros == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
            gx_status st = gx_exec_write(e, list[i].val, zeros, bytes, d);
            free(zeros);
            if (st != GX_OK) return st;
            continue;
        }
        if (t == NULL)
            return gx_diag_set(d, GX_ERR_NOT_FOUND, "%s '%s' is missing%s%s", what, list[i].name,
                               f ? " from " : " (no file given)", f ? file_name : "");
        if (t->dtype != v->info.dtype)
            return gx_diag_set(d, GX_ERR_DTYPE, "%s: '%s' is %s, but the graph declares %s %s",
                               file_name, list[i].name, gx_dtype_name(t->dtype),
                               gx_dtype_name(v->info.dtype),
                               gx_shape_str(&v->info.shape, s1, sizeof s1));
        int same = t->shape.ndim == v->info.shape.ndim;
        for (int k = 0; same && k < t->shape.ndim; k++) same = t->shape.dims[k] == v->info.shape.dims[k];
        if (!same)
            return gx_diag_set(d, GX_ERR_SHAPE, "%s: '%s' has shape %s, but the graph declares %s",
                               file_name, list[i].name, gx_shape_str(&t->shape, s1, sizeof s1),
                               gx_shape_str(&v->info.shape, s2, sizeof s2));
        gx_status st = gx_exec_write(e, list[i].val, t->data, t->nbytes, d);
        if (st != GX_OK) return st;
    }
    /* a tensor the graph does not know is most likely a typo: refuse it (a checkpoint's other
     * tensors, optimizer state and vocabulary, are not for the graph) */
    int ckpt = f && gx_st_meta(f, "gexec.format") != NULL;
    for (int i = 0; f && i < gx_st_count(f) && !ckpt; i++) {
        const char *name = gx_st_at(f, i)->name;
        if (gx_graph_find_named(list, n, name) == NULL) {
            const char *names[256];
            int k = 0;
            for (int32_t j = 0; j < n && k < 256; j++) names[k++] = list[j].name;
            const char *near = gx_nearest_name(name, names, k);
            return gx_diag_set(d, GX_ERR_NOT_FOUND, "%s: tensor '%s' is not a%s %s of the graph%s%s%s",
                               file_name, name, what[0] == 'i' ? "n" : "", what,
                               near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
        }
    }
    return GX_OK;
}

gx_status cli_save_outputs(gx_exec *e, const gx_graph *g, const char *path, gx_diag *d) {
    gx_st_writer *w = gx_st_writer_new();
    if (w == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    gx_status st = GX_OK;
    for (int32_t i = 0; i < g->n_outputs && st == GX_OK; i++) {
        const gx_value *v = &g->values[g->outputs[i].val];
        uint64_t bytes = gx_value_bytes(v);
        void *buf = malloc(bytes ? bytes : 1);
        if (buf == NULL) {
            st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
            break;
        }
        st = gx_exec_read(e, g->outputs[i].val, buf, bytes, d);
        if (st == GX_OK)
            st = gx_st_writer_add(w, g->outputs[i].name, v->info.dtype, &v->info.shape, buf, d);
        free(buf);
    }
    if (st == GX_OK) st = gx_st_writer_meta(w, "gexec.graph", g->name);
    if (st == GX_OK) st = gx_st_writer_save(w, path, d);
    gx_st_writer_free(w);
    return st;
}
