#!/usr/bin/env bash
# Runs every check CI runs, after installing what the tests need.
#
#   scripts/test.sh
#
# The hang tests mount a FUSE filesystem (fuse3, /dev/fuse) and compare with
# procps `ps`; run as root (or with sudo available for apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
command -v ps >/dev/null 2>&1 || need+=(procps)
# The syscall tables are checked against the kernel's uapi headers.
[ -e /usr/include/x86_64-linux-gnu/asm/unistd_64.h ] || need+=(linux-libc-dev)
command -v perl >/dev/null 2>&1 || need+=(perl-base)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
# unshare, flock (util-linux); mount (the show/ns tests mount a tmpfs and a bind).
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v flock >/dev/null 2>&1 || need+=(util-linux)
# strace counts the files a command opens (a test checks limits is linear).
command -v strace >/dev/null 2>&1 || need+=(strace)
command -v mount >/dev/null 2>&1 || need+=(mount)
# serve is scraped by the real Prometheus server and checked by promtool;
# curl is the HTTP client of those tests, openssl makes their certificate.
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# stack --user's tests build a C target with gcc and expect glibc's frames
# with file:line (its detached debug info).
command -v gcc >/dev/null 2>&1 || need+=(gcc)
dpkg -s libc6-dbg >/dev/null 2>&1 || need+=(libc6-dbg)
# procscope top's end-to-end tests run it in a real terminal.
command -v tmux >/dev/null 2>&1 || need+=(tmux)
if ((${#need[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "==> installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -e /dev/fuse ]; then
  modprobe fuse 2>/dev/null || true
fi
command -v cargo-nextest >/dev/null 2>&1 || cargo install cargo-nextest --locked

echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
echo "==> build (the integration tests run procscope-testkit, which nextest does not build)"
cargo build --workspace --locked --quiet
echo "==> doc tests"
cargo test --workspace --doc --locked --quiet
echo "==> tests"
cargo nextest run --workspace --locked --no-fail-fast
