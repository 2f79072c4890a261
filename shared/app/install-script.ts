/**
 * The agent installer a GPU machine runs: `curl -fsSL <control plane>/install.sh | sudo BERTH_TOKEN=… sh`.
 * POSIX sh (dash, busybox, bash). It checks for Node.js 20+, downloads the agent bundle from the same control
 * plane and checks its SHA-256 (written into the script), installs it to /opt/berth-agent, keeps the token in a
 * root-only file (/etc/berth/agent.env, 0600: never on a command line, where `ps` shows it), and installs and
 * (re)starts a systemd unit. Idempotent: run again, it upgrades in place; the agent's identity (its data dir)
 * and, without a new BERTH_TOKEN, its token file are kept.
 */
/**
 * Node's flags for the installed agent: a 1 MiB young generation (V8's default is 16) keeps a mostly idle
 * daemon small: bench/agent measured 63 vs 68 MiB idle and 77 vs 117 MiB after 200 workloads, at the same
 * latency.
 */
export const AGENT_NODE_FLAGS = "--max-semi-space-size=1";

export function installScript(opts: { endpoint: string; sha256: string; version: string }): string {
  // Single-quoted in the script: neither may contain a quote (an endpoint is a URL origin, the rest hex/semver).
  for (const value of Object.values(opts))
    if (/['\\\n]/.test(value)) throw new Error(`unsafe value in the install script: ${value}`);
  return `#!/bin/sh
# Berth's node agent, from ${opts.endpoint} (agent ${opts.version}).
#
#   curl -fsSL ${opts.endpoint}/install.sh | sudo BERTH_TOKEN=<registration token> sh
#   curl -fsSL ${opts.endpoint}/install.sh | sudo BERTH_TOKEN=<token> sh -s -- --node-group G --node-labels '{"rack":"r1"}'
#
# Options: --node-group G, --node-labels JSON, --runtime auto|process|docker; --no-start (install, do not
# start); --no-systemd (no unit: prints how to run it); --root DIR (install under DIR, e.g. into an image).
# Run it again to upgrade: the agent's identity (/var/lib/berth-agent) and token file are kept.
set -eu

BERTH_ENDPOINT='${opts.endpoint}'
AGENT_SHA256='${opts.sha256}'
AGENT_VERSION='${opts.version}'

say() { printf 'berth install: %s\\n' "$*" >&2; }
die() { say "$*"; exit 1; }

root="" group="" labels="" runtime="" systemd=1 start=1
while [ $# -gt 0 ]; do
  case "$1" in
    --node-group|--node-labels|--runtime|--root)
      [ $# -ge 2 ] || { say "$1 needs a value"; exit 2; }
      case "$1" in
        --node-group) group="$2" ;;
        --node-labels) labels="$2" ;;
        --runtime) runtime="$2" ;;
        --root) root="$2" ;;
      esac
      shift 2 ;;
    --no-systemd) systemd=0; shift ;;
    --no-start) start=0; shift ;;
    *) say "unknown option $1 (see the comments at the top of this script)"; exit 2 ;;
  esac
done
case "$labels" in *"'"*|*"
"*) say "--node-labels cannot contain a single quote or a newline"; exit 2 ;; esac
case "$runtime" in ""|auto|process|docker) ;; *) say "--runtime must be auto, process or docker"; exit 2 ;; esac

command -v node >/dev/null 2>&1 ||
  die "Node.js 20 or later is needed and was not found: install it (https://nodejs.org/en/download, or your distribution's nodejs package) and run this again"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  die "Node.js $(node --version) is too old: 20 or later is needed (https://nodejs.org/en/download)"
if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
  die "run it as root (sudo ... sh): it installs to /opt/berth-agent, /etc/berth and a systemd unit"
fi

prefix="$root/opt/berth-agent"
etc="$root/etc/berth"
data="$root/var/lib/berth-agent"
env_file="$etc/agent.env"
mkdir -p "$prefix" "$etc" "$data"
chmod 700 "$etc" "$data"

if [ -z "\${BERTH_TOKEN:-}" ] && [ ! -f "$env_file" ] && [ ! -f "$data/identity.json" ]; then
  die "set BERTH_TOKEN to a registration token (berth tokens create prints this command with one)"
fi

download="$prefix/berth-agent.mjs.download"
url="$BERTH_ENDPOINT/downloads/berth-agent.mjs"
if command -v curl >/dev/null 2>&1; then
  curl -fsSL "$url" -o "$download" || die "could not download $url"
elif command -v wget >/dev/null 2>&1; then
  wget -q -O "$download" "$url" || die "could not download $url"
else
  die "curl or wget is needed to download the agent"
fi
got=$(node -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync(process.argv[1])).digest("hex"))' "$download")
if [ "$got" != "$AGENT_SHA256" ]; then
  rm -f "$download"
  die "the agent downloaded from $url has SHA-256 $got, not $AGENT_SHA256: nothing was installed"
fi
chmod 755 "$download"
mv -f "$download" "$prefix/berth-agent.mjs"

if [ -n "\${BERTH_TOKEN:-}" ]; then
  (
    umask 077
    {
      printf 'BERTH_ENDPOINT=%s\\n' "$BERTH_ENDPOINT"
      printf 'BERTH_TOKEN=%s\\n' "$BERTH_TOKEN"
      [ -z "$group" ] || printf 'BERTH_NODE_GROUP=%s\\n' "$group"
      [ -z "$labels" ] || printf "BERTH_NODE_LABELS='%s'\\n" "$labels"
      [ -z "$runtime" ] || printf 'BERTH_AGENT_RUNTIME=%s\\n' "$runtime"
    } >"$env_file.new"
  )
  mv -f "$env_file.new" "$env_file"
else
  say "kept $env_file (an upgrade: BERTH_TOKEN was not given)"
fi
chmod 600 "$env_file" 2>/dev/null || true

run="node ${AGENT_NODE_FLAGS} /opt/berth-agent/berth-agent.mjs --data-dir /var/lib/berth-agent"
if [ "$systemd" = 0 ]; then
  say "installed berth-agent $AGENT_VERSION to $prefix (no systemd unit); run it with:"
  say "  set -a; . $env_file; set +a; node ${AGENT_NODE_FLAGS} $prefix/berth-agent.mjs --data-dir $data"
  exit 0
fi
command -v systemctl >/dev/null 2>&1 ||
  die "systemd was not found: run this again with --no-systemd (it prints how to start the agent)"
node_bin=$(command -v node)
mkdir -p "$root/etc/systemd/system"
cat >"$root/etc/systemd/system/berth-agent.service" <<UNIT
[Unit]
Description=Berth node agent ($BERTH_ENDPOINT)
After=network-online.target docker.service
Wants=network-online.target

[Service]
Type=simple
EnvironmentFile=/etc/berth/agent.env
ExecStart=$node_bin ${AGENT_NODE_FLAGS} /opt/berth-agent/berth-agent.mjs --data-dir /var/lib/berth-agent
Restart=always
RestartSec=5
# Exit 2: the device was deleted or the setup is wrong; restarting would not help (see the journal).
RestartPreventExitStatus=2
# Stop, restart or upgrade the agent only: its workloads keep running and the new agent re-attaches.
KillMode=process
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
UNIT
if [ -n "$root" ]; then
  say "installed berth-agent $AGENT_VERSION and its unit under $root (not started: --root)"
  exit 0
fi
systemctl daemon-reload
systemctl enable berth-agent >/dev/null 2>&1
if [ "$start" = 1 ]; then
  systemctl restart berth-agent
  say "berth-agent $AGENT_VERSION is running: journalctl -u berth-agent -f shows it; $run is what it runs"
else
  say "berth-agent $AGENT_VERSION is installed and enabled; start it with: systemctl start berth-agent"
fi
`;
}
