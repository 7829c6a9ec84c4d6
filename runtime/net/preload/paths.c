// Volume mounts without a mount namespace: a file-system call on a path under a container's
// mountPath goes to the host directory that stands for it (TICKETCTL_MOUNTS, written by the
// kubelet: "ro|rw <mountPath>=<host dir>" lines, longest mount path first). Only absolute paths
// are mapped; a program that chdir()s into a mount is in the host directory from then on, so
// its relative paths need nothing. Read-only mounts refuse writes with EROFS.
//
// What is not seen: calls that bypass libc (raw syscalls: libuv's statx, Go's runtime) and
// libc's internal calls that are not interposable (covered here by wrapping fopen, opendir,
// realpath and scandir themselves). docs/volumes.md says so for users.

#define _GNU_SOURCE
#undef _FORTIFY_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preload.h"

enum { TNET_MAX_MOUNTS = 32, TNET_MAX_MOUNT_PATH = 1024 };

struct tnet_mount {
  char path[TNET_MAX_MOUNT_PATH];
  size_t len;
  char host[TNET_MAX_MOUNT_PATH];
  size_t host_len;
  int read_only;
};

static struct tnet_mount mounts[TNET_MAX_MOUNTS];
static size_t n_mounts;

void tnet_paths_init(void) {
  const char* env = getenv("TICKETCTL_MOUNTS");
  if (env == NULL) return;
  for (const char* line = env; *line != '\0' && n_mounts < TNET_MAX_MOUNTS;) {
    const char* end = strchr(line, '\n');
    if (end == NULL) end = line + strlen(line);
    const char* space = memchr(line, ' ', (size_t)(end - line));
    const char* eq = space ? memchr(space, '=', (size_t)(end - space)) : NULL;
    if (space != NULL && eq != NULL) {
      struct tnet_mount* m = &mounts[n_mounts];
      const size_t plen = (size_t)(eq - space - 1), hlen = (size_t)(end - eq - 1);
      // "/" would map every path: never a mount here.
      if (plen > 1 && plen < sizeof m->path && hlen > 0 && hlen < sizeof m->host &&
          space[1] == '/') {
        memcpy(m->path, space + 1, plen);
        m->path[plen] = '\0';
        m->len = plen;
        memcpy(m->host, eq + 1, hlen);
        m->host[hlen] = '\0';
        m->host_len = hlen;
        m->read_only = (size_t)(space - line) == 2 && memcmp(line, "ro", 2) == 0;
        ++n_mounts;
      }
    }
    line = *end == '\0' ? end : end + 1;
  }
}

// The mount `path` is under, or NULL.
static const struct tnet_mount* mount_of(const char* path) {
  if (n_mounts == 0 || path == NULL || path[0] != '/') return NULL;
  for (size_t i = 0; i < n_mounts; ++i) {
    const struct tnet_mount* m = &mounts[i];
    if (strncmp(path, m->path, m->len) == 0 && (path[m->len] == '\0' || path[m->len] == '/'))
      return m;
  }
  return NULL;
}

// `path` as the host sees it: in `buf` when it is under a mount, else `path` itself. NULL (with
// errno ENAMETOOLONG) when the mapped path does not fit. `m_out` receives the mount.
static const char* map(const char* path, char* buf, size_t size, const struct tnet_mount** m_out) {
  const struct tnet_mount* m = mount_of(path);
  if (m_out != NULL) *m_out = m;
  if (m == NULL) return path;
  const size_t rest = strlen(path + m->len);
  if (m->host_len + rest + 1 > size) {
    errno = ENAMETOOLONG;
    return NULL;
  }
  memcpy(buf, m->host, m->host_len);
  memcpy(buf + m->host_len, path + m->len, rest + 1);
  return buf;
}

static int writes(int flags) {
  return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) != 0;
}

static int fopen_writes(const char* mode) {
  return mode != NULL && (strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+'));
}

// ISO C has no conversion from void* to a function pointer; POSIX guarantees this copy works.
#define REAL(type, name, args)                                   \
  static type(*real_##name) args;                                \
  if (__atomic_load_n(&real_##name, __ATOMIC_RELAXED) == NULL) { \
    void* sym = dlsym(RTLD_NEXT, #name);                         \
    type(*fn) args;                                              \
    memcpy(&fn, &sym, sizeof sym);                               \
    __atomic_store_n(&real_##name, fn, __ATOMIC_RELAXED);        \
  }                                                              \
  if (real_##name == NULL) {                                     \
    errno = ENOSYS;                                              \
    return fail;                                                 \
  }

// A path argument: mapped into `p`, or the call fails as the kernel would fail it.
#define MAP(p, path, write)                                   \
  char p##_buf[TNET_MAX_PATH];                                \
  const struct tnet_mount* p##_m;                             \
  const char* p = map(path, p##_buf, sizeof p##_buf, &p##_m); \
  if (p == NULL) return fail;                                 \
  if ((write) && p##_m != NULL && p##_m->read_only) {         \
    errno = EROFS;                                            \
    return fail;                                              \
  }

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_LIKE(name)                                    \
  TNET_EXPORT int name(const char* path, int flags, ...) { \
    const int fail = -1;                                   \
    va_list ap;                                            \
    va_start(ap, flags);                                   \
    const mode_t mode = mode_arg(flags, ap);               \
    va_end(ap);                                            \
    REAL(int, name, (const char*, int, ...));              \
    MAP(p, path, writes(flags));                           \
    return real_##name(p, flags, mode);                    \
  }
OPEN_LIKE(open)
OPEN_LIKE(open64)

#define OPENAT_LIKE(name)                                             \
  TNET_EXPORT int name(int dirfd, const char* path, int flags, ...) { \
    const int fail = -1;                                              \
    va_list ap;                                                       \
    va_start(ap, flags);                                              \
    const mode_t mode = mode_arg(flags, ap);                          \
    va_end(ap);                                                       \
    REAL(int, name, (int, const char*, int, ...));                    \
    MAP(p, path, writes(flags));                                      \
    return real_##name(dirfd, p, flags, mode);                        \
  }
OPENAT_LIKE(openat)
OPENAT_LIKE(openat64)

// The fortified entry points (-D_FORTIFY_SOURCE), which Debian's packages are built with.
#define OPEN2_LIKE(name)                              \
  TNET_EXPORT int name(const char* path, int flags) { \
    const int fail = -1;                              \
    REAL(int, name, (const char*, int));              \
    MAP(p, path, writes(flags));                      \
    return real_##name(p, flags);                     \
  }
OPEN2_LIKE(__open_2)
OPEN2_LIKE(__open64_2)

#define OPENAT2_LIKE(name)                                       \
  TNET_EXPORT int name(int dirfd, const char* path, int flags) { \
    const int fail = -1;                                         \
    REAL(int, name, (int, const char*, int));                    \
    MAP(p, path, writes(flags));                                 \
    return real_##name(dirfd, p, flags);                         \
  }
OPENAT2_LIKE(__openat_2)
OPENAT2_LIKE(__openat64_2)

#define FOPEN_LIKE(name)                                       \
  TNET_EXPORT FILE* name(const char* path, const char* mode) { \
    FILE* const fail = NULL;                                   \
    REAL(FILE*, name, (const char*, const char*));             \
    MAP(p, path, fopen_writes(mode));                          \
    return real_##name(p, mode);                               \
  }
FOPEN_LIKE(fopen)
FOPEN_LIKE(fopen64)

#define STAT_LIKE(name, st)                                \
  TNET_EXPORT int name(const char* path, struct st* buf) { \
    const int fail = -1;                                   \
    REAL(int, name, (const char*, struct st*));            \
    MAP(p, path, 0);                                       \
    return real_##name(p, buf);                            \
  }
STAT_LIKE(stat, stat)
STAT_LIKE(lstat, stat)
STAT_LIKE(stat64, stat64)
STAT_LIKE(lstat64, stat64)

#define FSTATAT_LIKE(name, st)                                                   \
  TNET_EXPORT int name(int dirfd, const char* path, struct st* buf, int flags) { \
    const int fail = -1;                                                         \
    REAL(int, name, (int, const char*, struct st*, int));                        \
    MAP(p, path, 0);                                                             \
    return real_##name(dirfd, p, buf, flags);                                    \
  }
FSTATAT_LIKE(fstatat, stat)
FSTATAT_LIKE(fstatat64, stat64)

TNET_EXPORT int statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* buf) {
  const int fail = -1;
  REAL(int, statx, (int, const char*, int, unsigned, struct statx*));
  MAP(p, path, 0);
  return real_statx(dirfd, p, flags, mask, buf);
}

TNET_EXPORT int access(const char* path, int how) {
  const int fail = -1;
  REAL(int, access, (const char*, int));
  MAP(p, path, (how & W_OK) != 0);
  return real_access(p, how);
}

TNET_EXPORT int faccessat(int dirfd, const char* path, int how, int flags) {
  const int fail = -1;
  REAL(int, faccessat, (int, const char*, int, int));
  MAP(p, path, (how & W_OK) != 0);
  return real_faccessat(dirfd, p, how, flags);
}

TNET_EXPORT DIR* opendir(const char* path) {
  DIR* const fail = NULL;
  REAL(DIR*, opendir, (const char*));
  MAP(p, path, 0);
  return real_opendir(p);
}

TNET_EXPORT int scandir(const char* path, struct dirent*** list,
                        int (*filter)(const struct dirent*),
                        int (*compar)(const struct dirent**, const struct dirent**)) {
  const int fail = -1;
  REAL(int, scandir,
       (const char*, struct dirent***, int (*)(const struct dirent*),
        int (*)(const struct dirent**, const struct dirent**)));
  MAP(p, path, 0);
  return real_scandir(p, list, filter, compar);
}

TNET_EXPORT int chdir(const char* path) {
  const int fail = -1;
  REAL(int, chdir, (const char*));
  MAP(p, path, 0);
  return real_chdir(p);
}

TNET_EXPORT int mkdir(const char* path, mode_t mode) {
  const int fail = -1;
  REAL(int, mkdir, (const char*, mode_t));
  MAP(p, path, 1);
  return real_mkdir(p, mode);
}

TNET_EXPORT int mkdirat(int dirfd, const char* path, mode_t mode) {
  const int fail = -1;
  REAL(int, mkdirat, (int, const char*, mode_t));
  MAP(p, path, 1);
  return real_mkdirat(dirfd, p, mode);
}

TNET_EXPORT int rmdir(const char* path) {
  const int fail = -1;
  REAL(int, rmdir, (const char*));
  MAP(p, path, 1);
  return real_rmdir(p);
}

TNET_EXPORT int unlink(const char* path) {
  const int fail = -1;
  REAL(int, unlink, (const char*));
  MAP(p, path, 1);
  return real_unlink(p);
}

TNET_EXPORT int unlinkat(int dirfd, const char* path, int flags) {
  const int fail = -1;
  REAL(int, unlinkat, (int, const char*, int));
  MAP(p, path, 1);
  return real_unlinkat(dirfd, p, flags);
}

TNET_EXPORT int rename(const char* from, const char* to) {
  const int fail = -1;
  REAL(int, rename, (const char*, const char*));
  MAP(a, from, 1);
  MAP(b, to, 1);
  return real_rename(a, b);
}

TNET_EXPORT int renameat(int fromfd, const char* from, int tofd, const char* to) {
  const int fail = -1;
  REAL(int, renameat, (int, const char*, int, const char*));
  MAP(a, from, 1);
  MAP(b, to, 1);
  return real_renameat(fromfd, a, tofd, b);
}

TNET_EXPORT ssize_t readlink(const char* path, char* buf, size_t size) {
  const ssize_t fail = -1;
  REAL(ssize_t, readlink, (const char*, char*, size_t));
  MAP(p, path, 0);
  return real_readlink(p, buf, size);
}

TNET_EXPORT int chmod(const char* path, mode_t mode) {
  const int fail = -1;
  REAL(int, chmod, (const char*, mode_t));
  MAP(p, path, 1);
  return real_chmod(p, mode);
}

TNET_EXPORT int truncate(const char* path, off_t length) {
  const int fail = -1;
  REAL(int, truncate, (const char*, off_t));
  MAP(p, path, 1);
  return real_truncate(p, length);
}

TNET_EXPORT char* realpath(const char* path, char* resolved) {
  char* const fail = NULL;
  REAL(char*, realpath, (const char*, char*));
  MAP(p, path, 0);
  return real_realpath(p, resolved);
}
