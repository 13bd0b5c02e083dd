#!/usr/bin/env bash
# Starts the OpenLDAP server of docker-compose.yml.
#
# On the first start (no $SLAPD_DATA_DIR/slapd.d yet) it fills in the cn=config template the
# tests use, tests/fixtures/slapd/config.ldif.in (placeholders: see the README next to it),
# loads it with `slapadd -n0`, loads the demo directory seed/directory.ldif with
# `slapadd -n1`, and only then moves the finished config into place, so a start that fails
# half-way is redone from scratch next time. Later starts reuse the data as it is (online
# changes such as new passwords persist); to reload the seed, remove the volume
# (`docker compose down -v`). Then it runs slapd in the foreground.
#
# Settings (environment; the defaults are the container's paths in docker-compose.yml):
#   SLAPD_SEED_DIR    the repository's seed/ (schema/lokal.ldif, directory.ldif)
#   SLAPD_TEMPLATE    the repository's tests/fixtures/slapd/config.ldif.in
#   SLAPD_DATA_DIR    where slapd.d/ (the config) and db/ (the mdb database) are kept
#   SLAPD_URLS        what slapd listens on (slapd -h)
#   SLAPD_SIZE_LIMIT  most entries a plain (unpaged) search returns
#   SLAPD_USER        the user (and group) slapd runs as; empty: stay the current user
#
# The integration tests run this script outside Docker (tests/it/compose.rs), so keep it
# free of container-only assumptions beyond these defaults.
set -euo pipefail

SEED_DIR="${SLAPD_SEED_DIR:-/lokal/seed}"
TEMPLATE="${SLAPD_TEMPLATE:-/lokal/slapd/config.ldif.in}"
DATA_DIR="${SLAPD_DATA_DIR:-/var/lib/lokal-ldap}"
URLS="${SLAPD_URLS:-ldap:/// ldapi:///}"
SIZE_LIMIT="${SLAPD_SIZE_LIMIT:-500}"
RUN_AS="${SLAPD_USER-openldap}"

# Debian's locations, as in tests/it/support/slapd.rs.
SLAPD=/usr/sbin/slapd
SLAPADD=/usr/sbin/slapadd
SCHEMA_DIR=/etc/ldap/schema
MODULE_DIR=/usr/lib/ldap

CONF_DIR="$DATA_DIR/slapd.d"
DB_DIR="$DATA_DIR/db"

die() {
  echo "lokal-slapd: $*" >&2
  exit 1
}

# A value for the right-hand side of sed's s|...|...|: escape \, | and &.
sed_value() {
  printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

for file in "$TEMPLATE" "$SEED_DIR/schema/lokal.ldif" "$SEED_DIR/directory.ldif"; do
  [ -r "$file" ] || die "cannot read $file: mount the repository's seed/ at $SEED_DIR and tests/fixtures/slapd/config.ldif.in at $TEMPLATE (see docker-compose.yml)"
done
if [ ! -x "$SLAPD" ] || [ ! -x "$SLAPADD" ]; then
  die "slapd is not installed ($SLAPD, $SLAPADD)"
fi

if [ ! -d "$CONF_DIR" ]; then
  echo "lokal-slapd: first start: loading $TEMPLATE and $SEED_DIR/directory.ldif" >&2
  rm -rf "$CONF_DIR.new" "$DB_DIR" "$DATA_DIR/config.ldif"
  mkdir -p "$CONF_DIR.new" "$DB_DIR"
  # The same substitutions as tests/it/support/slapd.rs (@AD_SCHEMA@ is for the AD fixture's
  # template only, and no TLS: the server is reached only on the compose network).
  sed -e "s|@SCHEMA_DIR@|$(sed_value "$SCHEMA_DIR")|g" \
      -e "s|@LOKAL_SCHEMA@|$(sed_value "$SEED_DIR/schema/lokal.ldif")|g" \
      -e "s|@DB_DIR@|$(sed_value "$DB_DIR")|g" \
      -e "s|@SIZE_LIMIT@|$(sed_value "$SIZE_LIMIT")|g" \
      -e "s|@MODULE_DIR@|$(sed_value "$MODULE_DIR")|g" \
      -e "s|@TLS_CONFIG@||g" \
      "$TEMPLATE" >"$DATA_DIR/config.ldif"
  if left=$(grep -nE '@[A-Z_]+@' "$DATA_DIR/config.ldif"); then
    die "$TEMPLATE has placeholders this script does not fill in: $left"
  fi
  "$SLAPADD" -n0 -F "$CONF_DIR.new" -l "$DATA_DIR/config.ldif"
  "$SLAPADD" -q -n1 -F "$CONF_DIR.new" -l "$SEED_DIR/directory.ldif"
  mv "$CONF_DIR.new" "$CONF_DIR"
fi

user_args=()
if [ -n "$RUN_AS" ]; then
  chown -R "$RUN_AS:$RUN_AS" "$DATA_DIR"
  user_args=(-u "$RUN_AS" -g "$RUN_AS")
fi
# ldapi:// (for `ldapmodify -Y EXTERNAL -H ldapi:///` as root inside the container) needs
# the socket's folder, which the package does not create when it is not configured.
case "$URLS" in
  *ldapi://*)
    mkdir -p /run/slapd
    [ -z "$RUN_AS" ] || chown "$RUN_AS:$RUN_AS" /run/slapd
    ;;
esac

exec "$SLAPD" -F "$CONF_DIR" -h "$URLS" "${user_args[@]}" -d 0
