#pragma once
// Files only their owner may read or change, created so that a planted symlink or a loose umask
// cannot redirect or expose them, and the check that a directory tree is the invoking user's
// alone. Knows nothing of Kubernetes; any thread.

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/core/result.h"

namespace ticketctl {

// Writes `content` to `file` with mode 0600 whatever the umask: a fresh temporary file beside it
// (O_EXCL, never through a symlink), fsync, then rename, so readers never see half a file.
Result<bool> write_private_file(const std::filesystem::path& file, const std::string& content);

// Opens (creating with 0600 when missing) `file` for appending; refuses a symlink. -1 and errno
// on failure, like open(2).
int open_private_append(const std::filesystem::path& file);

// Creates `dir` and any missing parents with mode 0700 whatever the umask, and tightens `dir`
// itself to 0700 when it exists. Refuses when `dir` is a symlink.
Result<bool> make_private_dirs(const std::filesystem::path& dir);

// Whether the tree at `root` can be trusted by the effective user: every existing ancestor is
// owned by root or the user and writable by nobody else (sticky directories such as /tmp
// excepted), and `root` and every entry below it belong to the user and are writable by nobody
// else. Entries of directories whose name is in `opaque` are not looked into (pods' own data,
// which their programs own). The error names the first offending path, its owner or mode, and
// what to do. A missing `root` passes when its ancestors do.
Result<bool> check_private_tree(const std::filesystem::path& root,
                                const std::vector<std::string>& opaque = {});

}  // namespace ticketctl
