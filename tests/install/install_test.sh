#!/usr/bin/env bash
# cmake --install into a staging directory (DESTDIR): the layout; a second install keeps an
# edited configuration; the installed musterd checks the installed configuration and serves
# the installed console; the systemd unit passes systemd-analyze verify where it exists.
# Usage: install_test.sh BUILD_DIR
set -euo pipefail
build="$1"
stage=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$stage"
}
trap cleanup EXIT
fail() { echo "install test: $*" >&2; exit 1; }

DESTDIR="$stage" cmake --install "$build" --prefix /usr/local >"$stage/install.log"
for f in usr/local/bin/musterd usr/local/bin/muster usr/local/share/muster/web/index.html \
         usr/local/share/muster/web/vendor/preact.mjs etc/muster/musterd.toml \
         usr/local/lib/systemd/system/musterd.service usr/local/share/doc/muster/README.md \
         usr/local/share/doc/muster/PROTOCOL.md; do
  [ -e "$stage/$f" ] || fail "missing after install: /$f"
done
echo "ok - cmake --install lays out bin, share/muster/web, /etc/muster and the systemd unit"

echo "# edited by the operator" >>"$stage/etc/muster/musterd.toml"
DESTDIR="$stage" cmake --install "$build" --prefix /usr/local >>"$stage/install.log"
grep -q "# edited by the operator" "$stage/etc/muster/musterd.toml" || fail "an install overwrote the configuration"
echo "ok - a second install keeps the operator's configuration"

musterd="$stage/usr/local/bin/musterd"
if [ "$(id -u)" = 0 ]; then  # its storage.path is /var/lib/muster: checked for writing
  "$musterd" --check-config "$stage/etc/muster/musterd.toml" >/dev/null || fail "the installed configuration does not check"
  echo "ok - the installed musterd accepts the installed configuration"
fi

"$musterd" --config "$stage/etc/muster/musterd.toml" --listen 127.0.0.1:0 --port-file "$stage/port" \
  --set auth.enabled=false --set 'engine.type="memory"' >"$stage/musterd.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -s "$stage/port" ] && break; sleep 0.05; done
[ -s "$stage/port" ] || { cat "$stage/musterd.log" >&2; fail "the installed musterd did not start"; }
port=$(cat "$stage/port")
grep -q "web console: .* files from $stage/usr/local/share/muster/web" "$stage/musterd.log" ||
  { cat "$stage/musterd.log" >&2; fail "the installed musterd does not serve the installed console"; }
/usr/bin/python3 - "$port" <<'PY' || fail "the installed console is not served"
import sys, urllib.request
port = sys.argv[1]
for path in ("/", "/vendor/preact.mjs", "/app.js"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        assert r.status == 200, (path, r.status)
PY
kill -TERM "$pid"
wait "$pid" || fail "the installed musterd did not stop cleanly on SIGTERM"
pid=""
echo "ok - the installed musterd serves the installed console and stops on SIGTERM"

if command -v systemd-analyze >/dev/null; then
  # The unit as installed, pointed at the staged binary (verify needs ExecStart to exist).
  sed "s#/usr/local/bin/musterd#$musterd#" "$stage/usr/local/lib/systemd/system/musterd.service" \
    >"$stage/musterd-check.service"
  (cd "$stage" && systemd-analyze verify ./musterd-check.service) || fail "systemd-analyze verify refused the unit"
  echo "ok - systemd-analyze verify accepts the unit"
else
  echo "skip - no systemd-analyze"
fi
echo "install test: all checks passed"
