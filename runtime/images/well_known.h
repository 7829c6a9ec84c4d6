#pragma once
// Well-known infrastructure images (redis, postgres, mongo, mysql/mariadb, nats, nats-streaming,
// rabbitmq, memcached) mapped to locally installed servers, each run the way its official
// image's entrypoint runs it: one table row (program, the image's CMD, port, VOLUME, where to get
// the program) plus, where the image initialises itself on first start, an entrypoint script.
// The script runs as the container's main process under /bin/sh with the container's env; it
// receives the image's arguments ("$@": the manifest's args, else the image's CMD) and
// TICKETCTL_DATA_DIR, the host directory that stands for the image's VOLUME. docs/images.md
// lists what each row honours. Pure data and lookups; any thread.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ticketctl::images {

struct WellKnownImage {
  std::string_view image;    // Docker Hub name, without tag: "postgres"
  std::string_view program;  // what must be installed: "postgres"
  // Directories searched after PATH (globs; the highest version wins): Debian keeps postgres in
  // /usr/lib/postgresql/<version>/bin, off PATH.
  std::vector<std::string_view> program_dirs;
  std::vector<std::string> cmd;  // the image's CMD; the manifest's args replace it
  int port;                      // the port the image's server listens on
  std::string_view volume;       // the image's VOLUME (its data), empty when it declares none
  std::string_view debian;       // how to get the program on Debian/Ubuntu
  std::string_view macos;        // ... and on macOS
  // The server refuses to run as root (postgres): as root it runs in a user namespace that maps
  // the invoking user to this account's uid (or nobody's), see docs/images.md.
  std::string_view refuses_root_as;
  std::string_view entrypoint;  // sh script run with "$@" = args
};

const std::vector<WellKnownImage>& well_known_images();
const WellKnownImage* find_well_known(std::string_view name);

// Where the row's program is installed: its directory (PATH first, then program_dirs), or
// nullopt. `on_path` says whether a bare program name is on PATH.
std::optional<std::string> find_well_known_program(const WellKnownImage& w, bool on_path);

// The pod message for a missing program: where to get it on Debian/Ubuntu and macOS, and the
// ticketctl.yaml entry that points the image at another command.
std::string missing_program_message(const WellKnownImage& w, std::string_view image);

}  // namespace ticketctl::images
