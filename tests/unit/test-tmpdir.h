/*
 * test-tmpdir.h: a scratch directory for tests that write files (test-safetensors,
 * test-tfevents): made with mkdtemp under /tmp, so a test runs from any working directory, and
 * removed with everything in it at the end. Include after <dirent.h>, <stdio.h>, <string.h>,
 * <sys/stat.h>, <unistd.h> and with _POSIX_C_SOURCE 200809L.
 */
#ifndef GX_TEST_TMPDIR_H
#define GX_TEST_TMPDIR_H

static char g_dir[64];

/* g_dir/name, in one of four rotating buffers (a call may take two or three paths) */
static const char *path_in(const char *name) {
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", g_dir, name);
    return p;
}

static void remove_tree(const char *dir) {
    DIR *dp = opendir(dir);
    if (dp == NULL) return;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) remove_tree(p);
        else unlink(p);
    }
    closedir(dp);
    rmdir(dir);
}

/* CMocka group setup and teardown: g_dir made from `pattern` (ending in XXXXXX), then removed */
static int tmpdir_make(const char *pattern) {
    snprintf(g_dir, sizeof g_dir, "%s", pattern);
    return mkdtemp(g_dir) ? 0 : -1;
}

static int tmpdir_teardown(void **state) {
    (void)state;
    remove_tree(g_dir);
    return 0;
}

#endif
