/*  ttmp.h: a test's temporary directory, made and removed in one place.

    ttmp_make fills buf with a fresh mkdtemp directory under /tmp named after
    prefix; ttmp_remove deletes a tree made that way (files, sockets, LMDB
    files, sub-directories) without a shell, and refuses any path that is
    not directly under /tmp, so a bad pointer cannot remove anything else.
    Header-only, for the test thread.
*/
#ifndef TTMP_H
#define TTMP_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 0, or -1 when the directory could not be made. */
static inline int ttmp_make(char *buf, size_t size, const char *prefix)
{
    if (snprintf(buf, size, "/tmp/%s.XXXXXX", prefix) >= (int)size) {
        return -1;
    }
    return mkdtemp(buf) ? 0 : -1;
}

/* Removes path and, if it is a directory (not a link to one), what is in
   it; depth keeps a runaway tree from recursing for ever. */
static inline void ttmp_remove_tree(const char *path, int depth)
{
    struct stat st;
    if (depth > 16 || lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char sub[4096];
                if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) < (int)sizeof(sub)) {
                    ttmp_remove_tree(sub, depth + 1);
                }
            }
        }
        if (d) {
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline void ttmp_remove(const char *dir)
{
    if (dir && strncmp(dir, "/tmp/", 5) == 0 && strchr(dir + 5, '/') == NULL && dir[5]) {
        ttmp_remove_tree(dir, 0);
    }
}

#endif
