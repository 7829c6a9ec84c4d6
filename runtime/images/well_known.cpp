#include "runtime/images/well_known.h"

#include <fmt/format.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace ticketctl::images {
namespace {

// docker-library/redis: a first argument that is a flag or a .conf file goes to redis-server;
// without a config file the image turns protected mode off (clients come from other
// containers); the working directory is the VOLUME /data, where redis writes dump.rdb. Without a
// config file redis binds "* -::*": the IPv6 wildcard cannot become the pod's (IPv4) address and
// would take the host's port, so it binds the IPv4 wildcard, which the preload library rewrites.
constexpr std::string_view kRedis = R"sh(
case "$1" in -*|*.conf) set -- redis-server "$@" ;; esac
if [ "$1" = redis-server ]; then
  case " $* " in *" --protected-mode "*|*.conf*) ;; *) set -- "$@" --protected-mode no ;; esac
  case " $* " in *" --bind "*|*.conf*) ;; *) set -- "$@" --bind 0.0.0.0 ;; esac
fi
cd "$TICKETCTL_DATA_DIR" || exit 1
exec "$@"
)sh";

// docker-library/postgres: initdb on first start with POSTGRES_USER/POSTGRES_PASSWORD and
// POSTGRES_INITDB_ARGS, `host all all all <auth>` in pg_hba.conf, POSTGRES_DB created, then the
// server listening on every address. PGDATA under the VOLUME is translated to its host
// directory. The database is created in single-user mode: no temporary server, no psql needed.
constexpr std::string_view kPostgres = R"sh(
set -e
case "$1" in -*) set -- postgres "$@" ;; esac
[ "$1" = postgres ] || exec "$@"
shift
PATH="${TICKETCTL_PROGRAM_DIR:+$TICKETCTL_PROGRAM_DIR:}$PATH"
volume=/var/lib/postgresql/data
PGDATA="${PGDATA:-$volume}"
case "$PGDATA" in "$volume"|"$volume"/*) PGDATA="$TICKETCTL_DATA_DIR${PGDATA#"$volume"}" ;; esac
export PGDATA
mkdir -p "$PGDATA"
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    echo "Error: Database is uninitialized and superuser password is not specified." >&2
    echo "       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser," >&2
    echo "       or POSTGRES_HOST_AUTH_METHOD=trust to allow connections without a password." >&2
    exit 1
  fi
  user="${POSTGRES_USER:-postgres}"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  # Every pod connects from 127.0.0.1 (the kernel's source address on lo), which initdb's
  # default pg_hba.conf trusts: host lines get the image's method too.
  # shellcheck disable=SC2086
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$auth" \
    $POSTGRES_INITDB_ARGS
  rm -f "$pwfile"
  printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
  db="${POSTGRES_DB:-$user}"
  if [ "$db" != postgres ]; then
    quoted=$(printf '%s' "$db" | sed 's/"/""/g')
    printf 'CREATE DATABASE "%s"\n' "$quoted" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo "PostgreSQL init process complete; ready for start up."
fi
exec postgres -c listen_addresses=0.0.0.0 -c unix_socket_directories='' "$@"
)sh";

// docker-library/mariadb (and mysql): system tables on first start, the root password for
// root@localhost and root@'%', MYSQL_DATABASE, MYSQL_USER/MYSQL_PASSWORD with all rights on it
// (MARIADB_* names too); the server on port 3306 of every address. As root, --user=root, as the
// image's own user would be.
constexpr std::string_view kMariadb = R"sh(
set -e
case "$1" in -*) set -- mariadbd "$@" ;; esac
case "$1" in mariadbd|mysqld) ;; *) exec "$@" ;; esac
server="$1"
shift
datadir="$TICKETCTL_DATA_DIR"
as_root=
[ "$(id -u)" != 0 ] || as_root=--user=root
esc() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g"; }
root_pw="${MARIADB_ROOT_PASSWORD:-$MYSQL_ROOT_PASSWORD}"
database="${MARIADB_DATABASE:-$MYSQL_DATABASE}"
user="${MARIADB_USER:-$MYSQL_USER}"
password="${MARIADB_PASSWORD:-$MYSQL_PASSWORD}"
if [ ! -d "$datadir/mysql" ]; then
  if [ -z "$root_pw" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD$MYSQL_ALLOW_EMPTY_PASSWORD" ]; then
    echo "error: database is uninitialized and password option is not specified" >&2
    echo "  You need to specify one of MARIADB_ROOT_PASSWORD or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" >&2
    exit 1
  fi
  install=$(command -v mariadb-install-db || command -v mysql_install_db)
  "$install" --datadir="$datadir" $as_root --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve >/dev/null
  sql=$(mktemp)
  {
    # The image keeps root@localhost only: the passwordless root@127.0.0.1, ::1 and hostname
    # entries would shadow root@'%' for clients on the pod's address.
    echo "DELETE FROM mysql.global_priv WHERE Host <> 'localhost';"
    echo "DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';"
    echo "FLUSH PRIVILEGES;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$(esc "$root_pw")';"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY '$(esc "$root_pw")';"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "$database" ]; then
      echo "CREATE DATABASE IF NOT EXISTS \`$(printf '%s' "$database" | sed 's/`/``/g')\`;"
    fi
    if [ -n "$user" ] && [ -n "$password" ]; then
      echo "CREATE USER '$(esc "$user")'@'%' IDENTIFIED BY '$(esc "$password")';"
      if [ -n "$database" ]; then
        echo "GRANT ALL ON \`$(printf '%s' "$database" | sed 's/`/``/g')\`.* TO '$(esc "$user")'@'%';"
      fi
    fi
  } > "$sql"
  "$server" --bootstrap --datadir="$datadir" $as_root --skip-networking --log-error="$datadir/bootstrap.err" < "$sql"
  rm -f "$sql"
  echo "MariaDB init process done. Ready for start up."
fi
# A Unix socket path has at most 107 bytes: state directories are often deeper than that.
sockdir=$(mktemp -d)
exec "$server" --datadir="$datadir" $as_root --port=3306 --bind-address=0.0.0.0 \
  --socket="$sockdir/mysqld.sock" --pid-file="$datadir/mysqld.pid" --skip-name-resolve "$@"
)sh";

// docker-library/mongo: `mongod --bind_ip_all` with the data in the VOLUME /data/db; with
// MONGO_INITDB_ROOT_USERNAME/PASSWORD, the first start creates that root user through mongosh on
// a server bound to the pod's own address, and every start then runs with --auth.
constexpr std::string_view kMongo = R"sh(
set -e
case "$1" in -*) set -- mongod "$@" ;; esac
[ "$1" = mongod ] || exec "$@"
shift
dbpath="$TICKETCTL_DATA_DIR"
auth=
if [ -n "$MONGO_INITDB_ROOT_USERNAME" ] && [ -n "$MONGO_INITDB_ROOT_PASSWORD" ]; then
  auth=--auth
  if [ ! -e "$dbpath/.ticketctl-initialized" ]; then
    shell=$(command -v mongosh || command -v mongo) || {
      echo "MONGO_INITDB_ROOT_USERNAME is set: creating the root user needs mongosh on PATH" >&2
      exit 1
    }
    addr="${TICKETCTL_POD_IP:-127.0.0.1}"
    mongod --dbpath "$dbpath" --bind_ip "$addr" --port 27017 &
    pid=$!
    tries=0
    until "$shell" --quiet "mongodb://$addr:27017/admin" --eval 'db.runCommand({ping: 1})' >/dev/null 2>&1; do
      tries=$((tries + 1))
      if [ "$tries" -gt 60 ]; then echo "mongod did not start for initialisation" >&2; exit 1; fi
      sleep 1
    done
    "$shell" --quiet "mongodb://$addr:27017/admin" --eval 'db.createUser({user: process.env.MONGO_INITDB_ROOT_USERNAME, pwd: process.env.MONGO_INITDB_ROOT_PASSWORD, roles: [{role: "root", db: "admin"}]})'
    kill "$pid"
    wait "$pid" || true
    touch "$dbpath/.ticketctl-initialized"
  fi
fi
exec mongod --bind_ip_all --dbpath "$dbpath" $auth "$@"
)sh";

// docker-library/rabbitmq: RABBITMQ_DEFAULT_USER/PASS/VHOST written into rabbitmq.conf, guest
// allowed from other hosts, node data (mnesia), logs and the Erlang cookie (HOME) in the VOLUME
// /var/lib/rabbitmq.
constexpr std::string_view kRabbitmq = R"sh(
set -e
[ "$1" = rabbitmq-server ] || exec "$@"
shift
base="$TICKETCTL_DATA_DIR"
mkdir -p "$base/mnesia" "$base/log"
{
  echo "loopback_users.guest = false"
  echo "listeners.tcp.default = 5672"
  [ -z "$RABBITMQ_DEFAULT_USER" ] || echo "default_user = $RABBITMQ_DEFAULT_USER"
  [ -z "$RABBITMQ_DEFAULT_PASS" ] || echo "default_pass = $RABBITMQ_DEFAULT_PASS"
  [ -z "$RABBITMQ_DEFAULT_VHOST" ] || echo "default_vhost = $RABBITMQ_DEFAULT_VHOST"
} > "$base/rabbitmq.conf"
export HOME="$base" RABBITMQ_MNESIA_BASE="$base/mnesia" RABBITMQ_LOG_BASE="$base/log"
export RABBITMQ_CONFIG_FILE="$base/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$base/enabled_plugins"
export RABBITMQ_NODENAME="${RABBITMQ_NODENAME:-rabbit@localhost}" RABBITMQ_LOGS=-
[ -e "$base/enabled_plugins" ] || echo "[]." > "$base/enabled_plugins"
exec rabbitmq-server "$@"
)sh";

// docker-library/memcached: a first argument that is a flag goes to memcached; the image runs
// as its own user, so as root memcached gets `-u root` (it refuses root otherwise).
constexpr std::string_view kMemcached = R"sh(
case "$1" in -*) set -- memcached "$@" ;; esac
if [ "$1" = memcached ] && [ "$(id -u)" = 0 ]; then
  case " $* " in *" -u "*|*" --user"*) ;; *) set -- "$@" -u root ;; esac
fi
# IPv4 only: the IPv6 wildcard would be the host's port (see redis).
if [ "$1" = memcached ]; then
  case " $* " in *" -l "*|*" --listen"*) ;; *) set -- "$@" -l 0.0.0.0 ;; esac
fi
exec "$@"
)sh";

// nats-server and nats-streaming-server are Go programs: Go makes its own system calls, so the
// preload library never sees their bind. They get the pod's address as their host (-a), which
// also holds for their monitoring port; a later -a in the manifest's args still wins.
constexpr std::string_view kNats = R"sh(
case "$1" in -*) set -- nats-server "$@" ;; esac
[ "$1" = nats-server ] || exec "$@"
shift
exec nats-server -a "${TICKETCTL_POD_IP:-0.0.0.0}" "$@"
)sh";
constexpr std::string_view kNatsStreaming = R"sh(
case "$1" in -*) set -- nats-streaming-server "$@" ;; esac
[ "$1" = nats-streaming-server ] || exec "$@"
shift
exec nats-streaming-server -a "${TICKETCTL_POD_IP:-0.0.0.0}" "$@"
)sh";

constexpr std::string_view kMariadbDebian = "apt-get install mariadb-server";
constexpr std::string_view kMariadbMac = "brew install mariadb";

}  // namespace

const std::vector<WellKnownImage>& well_known_images() {
  static const std::vector<WellKnownImage> table = {
      {"redis",
       "redis-server",
       {},
       {"redis-server"},
       6379,
       "/data",
       "apt-get install redis-server",
       "brew install redis",
       "",
       kRedis},
      {"postgres",
       "postgres",
       {"/usr/lib/postgresql/*/bin"},
       {"postgres"},
       5432,
       "/var/lib/postgresql/data",
       "apt-get install postgresql",
       "brew install postgresql@16",
       "postgres",
       kPostgres},
      {"mongo",
       "mongod",
       {},
       {"mongod"},
       27017,
       "/data/db",
       "MongoDB's own packages (mongodb-org from repo.mongodb.org, see "
       "https://www.mongodb.com/docs/manual/administration/install-on-linux/)",
       "brew tap mongodb/brew && brew install mongodb-community",
       "",
       kMongo},
      {"mariadb",
       "mariadbd",
       {"/usr/sbin"},
       {"mariadbd"},
       3306,
       "/var/lib/mysql",
       kMariadbDebian,
       kMariadbMac,
       "",
       kMariadb},
      {"mysql",
       "mysqld",
       {"/usr/sbin"},
       {"mysqld"},
       3306,
       "/var/lib/mysql",
       "apt-get install mariadb-server (its mysqld)",
       "brew install mysql",
       "",
       kMariadb},
      {"nats",
       "nats-server",
       {},
       {"nats-server", "-p", "4222", "-m", "8222"},
       4222,
       "",
       "apt-get install nats-server",
       "brew install nats-server",
       "",
       kNats},
      {"nats-streaming",
       "nats-streaming-server",
       {},
       {"nats-streaming-server", "-m", "8222"},
       4222,
       "",
       "its release binary (not packaged by Debian): nats-streaming-server from "
       "https://github.com/nats-io/nats-streaming-server/releases, unzipped onto PATH",
       "brew install nats-streaming-server",
       "",
       kNatsStreaming},
      {"rabbitmq",
       "rabbitmq-server",
       {"/usr/sbin", "/usr/lib/rabbitmq/bin"},
       {"rabbitmq-server"},
       5672,
       "/var/lib/rabbitmq",
       "apt-get install rabbitmq-server",
       "brew install rabbitmq",
       "",
       kRabbitmq},
      {"memcached",
       "memcached",
       {},
       {"memcached"},
       11211,
       "",
       "apt-get install memcached",
       "brew install memcached",
       "",
       kMemcached},
  };
  return table;
}

const WellKnownImage* find_well_known(std::string_view name) {
  for (const WellKnownImage& w : well_known_images())
    if (w.image == name) return &w;
  return nullptr;
}

std::optional<std::string> find_well_known_program(const WellKnownImage& w, bool on_path) {
  if (on_path) return std::string();
  // Version directories sort numerically: postgresql/9.6 before postgresql/15.
  for (std::string_view pattern : w.program_dirs) {
    glob_t g{};
    std::vector<std::string> dirs;
    if (::glob(std::string(pattern).c_str(), GLOB_NOSORT, nullptr, &g) == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) dirs.emplace_back(g.gl_pathv[i]);
    ::globfree(&g);
    std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
      return ::strverscmp(a.c_str(), b.c_str()) > 0;
    });
    for (const std::string& dir : dirs)
      if (::access((dir + "/" + std::string(w.program)).c_str(), X_OK) == 0) return dir;
  }
  return std::nullopt;
}

std::string missing_program_message(const WellKnownImage& w, std::string_view image) {
  return fmt::format(
      "image {} runs {}, which is not installed. Debian/Ubuntu: {}; macOS: {}. Or point the "
      "image at another command in ticketctl.yaml: `images: {{{}: {{command: [/path/to/{}]}}}}`",
      image, w.program, w.debian, w.macos, w.image, w.program);
}

}  // namespace ticketctl::images
