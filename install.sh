#!/usr/bin/env bash
# install.sh — install PhotoVault as a systemd service on a Debian/Ubuntu host.
#
#   sudo ./install.sh [path/to/photovault-binary] [domain]
#
# Creates the `photovault` system user, /var/lib/photovault (data, 0700),
# /etc/photovault (keys and settings, outside the data dir so a copied data
# dir or backup does not carry the keys that unlock it), and a hardened
# systemd unit. Re-running it upgrades the binary and keeps keys and data.
set -euo pipefail

BIN_SRC=${1:-./bin/photovault}
DOMAIN=${2:-}
PREFIX=/usr/local/bin
DATA=/var/lib/photovault
ETC=/etc/photovault
UNIT=/etc/systemd/system/photovault.service

die() { echo "install.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (sudo)"
[ -x "$BIN_SRC" ] || die "binary $BIN_SRC not found; build it with 'make build'"

newkey() {
  if command -v openssl >/dev/null; then openssl rand -hex 32
  else od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; echo
  fi
}

id photovault >/dev/null 2>&1 || useradd --system --home "$DATA" --shell /usr/sbin/nologin photovault
install -m 0755 "$BIN_SRC" "$PREFIX/photovault"
install -d -m 0700 -o photovault -g photovault "$DATA"
install -d -m 0750 -o root -g photovault "$ETC"

for k in master secret; do
  if [ ! -s "$ETC/$k.key" ]; then
    umask 077
    newkey > "$ETC/$k.key"
    chown root:photovault "$ETC/$k.key"
    chmod 0640 "$ETC/$k.key"
    echo "generated $ETC/$k.key — back it up somewhere safe: without the master key the vault cannot be read"
  fi
done

if [ ! -f "$ETC/photovault.env" ]; then
  {
    echo "PHOTOVAULT_DATA_DIR=$DATA"
    echo "PHOTOVAULT_ENCRYPTION_KEY_FILE=$ETC/master.key"
    echo "PHOTOVAULT_SECRET_KEY_FILE=$ETC/secret.key"
    if [ -n "$DOMAIN" ]; then
      echo "PHOTOVAULT_DOMAIN=$DOMAIN"
      echo "PHOTOVAULT_ALLOWED_HOSTS=$DOMAIN"
    else
      echo "PHOTOVAULT_ADDR=127.0.0.1:8080"
    fi
  } > "$ETC/photovault.env"
  chmod 0640 "$ETC/photovault.env"
  chown root:photovault "$ETC/photovault.env"
fi

cat > "$UNIT" <<UNIT
[Unit]
Description=PhotoVault photo vault and client delivery
After=network-online.target
Wants=network-online.target

[Service]
User=photovault
Group=photovault
EnvironmentFile=$ETC/photovault.env
ExecStart=$PREFIX/photovault serve
Restart=on-failure
RestartSec=2s
KillSignal=SIGTERM
TimeoutStopSec=40s
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=no
ReadWritePaths=$DATA
UMask=0077

[Install]
WantedBy=multi-user.target
UNIT

if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now photovault
  systemctl --no-pager status photovault || true
else
  echo "systemd not running here: start it with 'photovault serve --env-file $ETC/photovault.env'"
fi
echo "audit the deployment: sudo -u photovault photovault check --env-file $ETC/photovault.env"
echo "create the first owner: sudo -u photovault photovault user create --env-file $ETC/photovault.env --username YOU --password-stdin"
