#!/usr/bin/env bash
# What `npm run bench:etcd` needs besides Ordo: etcd 3.4 (server and etcdctl) and etcd's own load
# generator, `benchmark` from etcd's tools/benchmark. Installs only what is missing; never rebuilds.
#
#   bash bench/etcd/install.sh          # prints the path of the benchmark tool on its last line
#
# etcd and etcdctl: Debian's etcd-server and etcd-client (apt-get, as root or through sudo).
# The benchmark tool, looked for in this order: $ETCD_BENCHMARK, /opt/etcd-bench/benchmark,
# $ORDO_BENCH_CACHE/benchmark (default ~/.cache/ordo-bench). If none exists it is built into
# $ORDO_BENCH_CACHE from the Debian source package of the installed etcd (tools/benchmark is not in
# golang-etcd-server-dev), in GOPATH mode against the Go libraries Debian ships in
# /usr/share/gocode: no Go module proxy. The system's apt configuration is left untouched (a
# private deb-src list in a temporary directory). About a minute.
set -euo pipefail
CACHE=${ORDO_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ordo-bench}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "install.sh: need root (or sudo) for: $*" >&2; exit 1
  fi
}

apt_install() {
  command -v apt-get >/dev/null || {
    echo "install.sh: no apt-get; install $* yourself (etcd 3.4, etcdctl, Go)" >&2
    exit 1
  }
  echo "install.sh: apt-get install $*" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2 ||
    { as_root apt-get update >&2 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2; }
}

if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
  apt_install etcd-server etcd-client
fi

for candidate in "${ETCD_BENCHMARK:-}" /opt/etcd-bench/benchmark "$CACHE/benchmark"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    echo "install.sh: etcd $(etcd --version | sed -n 's/^etcd Version: //p'), benchmark tool present" >&2
    echo "$candidate"
    exit 0
  fi
done

# ---- build the benchmark tool into $CACHE ----
pkgs=()
dpkg -s golang-go >/dev/null 2>&1 || pkgs+=(golang-go)
dpkg -s golang-etcd-server-dev >/dev/null 2>&1 || pkgs+=(golang-etcd-server-dev)
dpkg -s etcd-server >/dev/null 2>&1 || pkgs+=(etcd-server)
[ ${#pkgs[@]} -eq 0 ] || apt_install "${pkgs[@]}"

VERSION=$(dpkg-query -W -f='${source:Version}' etcd-server) # e.g. 3.4.23-4 (a binNMU such as 3.4.23-4+b4 has no source of its own)
UPSTREAM=${VERSION%-*}
UPSTREAM=${UPSTREAM#*:}
echo "install.sh: building etcd $UPSTREAM tools/benchmark into $CACHE" >&2
mkdir -p "$CACHE"
A=$(mktemp -d "${TMPDIR:-/tmp}/ordo-bench-aptsrc.XXXXXX")
trap 'rm -rf "$A"' EXIT
mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/src" "$A/parts"
# deb-src twins of the system's own Debian sources (deb822 and one-line formats)
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] && sed 's/^Types: deb$/Types: deb-src/' "$f" > "$A/parts/$(basename "$f")"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -e "$f" ] && sed -n 's/^deb /deb-src /p' "$f" > "$A/parts/$(basename "$f").list"
done
O=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$A/parts"
   -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache")
apt-get "${O[@]}" update >&2
(cd "$A/src" && apt-get "${O[@]}" source --download-only "etcd=$VERSION" >&2)

GP=$CACHE/gopath
mkdir -p "$GP/src/go.etcd.io/etcd/tools"
tar xzf "$A/src/etcd_$UPSTREAM.orig.tar.gz" -C "$A" "etcd-$UPSTREAM/tools/benchmark"
rm -rf "$GP/src/go.etcd.io/etcd/tools/benchmark"
cp -r "$A/etcd-$UPSTREAM/tools/benchmark" "$GP/src/go.etcd.io/etcd/tools/"
# GOPATH mode: go.etcd.io/etcd/tools/benchmark/... resolves in $GP, everything else (clientv3,
# grpc, cobra, pb.v1, x/time/rate, ...) in Debian's /usr/share/gocode. No network.
(cd "$GP/src/go.etcd.io/etcd/tools/benchmark" &&
  env GO111MODULE=off GOPATH="$GP:/usr/share/gocode" GOFLAGS= GOPROXY=off \
    GOCACHE="$CACHE/gocache" go build -o "$CACHE/benchmark.tmp" . >&2)
mv "$CACHE/benchmark.tmp" "$CACHE/benchmark"
echo "install.sh: built $CACHE/benchmark" >&2
echo "$CACHE/benchmark"
