#!/usr/bin/env bash
# Each of two nodes imports the other's signed directory, pinned by the other's node-key fingerprint.
#
#   deploy/exchange-directories.sh      # the compose example's two nodes, after `docker compose up --wait`
#
# The fingerprint is read on the node's own host (`cmaa keys fingerprint`); the directory is fetched
# over the network, through TLS (GET /exchange/directory); the import refuses a directory not signed by
# the key with that fingerprint. Between two administrations the fingerprint travels out of band
# (a call, a signed letter); this script is for one operator who runs both nodes (a test bed, the
# compose example). It registers each node as the other's partner where it is not yet.
#
# Settings (the defaults are the compose example's):
#   NO_CMAA, JP_CMAA    how to run `cmaa` for that node  (docker compose exec -T node-no cmaa, ...)
#   NO_URL, JP_URL      the node's URL from here         (https://localhost:8601, https://localhost:8602)
#   NO_NAME, JP_NAME    names to register partners with  (Norwegian Customs, Japan Customs)
#   AGREEMENT           the agreement between them       (jp-no-2016)
#   TLS_DIR             the CA and the operator's client certificate (deploy/secrets)
set -euo pipefail
TLS_DIR=${TLS_DIR:-"$(dirname "$0")/secrets"}
AGREEMENT=${AGREEMENT:-jp-no-2016}
NO_CMAA=${NO_CMAA:-docker compose exec -T node-no cmaa} JP_CMAA=${JP_CMAA:-docker compose exec -T node-jp cmaa}
NO_URL=${NO_URL:-https://localhost:8601} JP_URL=${JP_URL:-https://localhost:8602}
NO_NAME=${NO_NAME:-Norwegian Customs} JP_NAME=${JP_NAME:-Japan Customs}
WORK=$(mktemp -d) && trap 'rm -rf "$WORK"' EXIT

cli() { local command="${1}_CMAA"; ${!command} "${@:2}"; }     # cli NO keys fingerprint
setting() { local name="${1}_$2"; echo "${!name}"; }            # setting NO URL

for pair in "NO JP" "JP NO"; do
  read -r from to <<< "$pair"
  fingerprint=$(cli "$from" keys fingerprint)
  curl -sSf --cacert "$TLS_DIR/ca.pem" --cert "$TLS_DIR/operator.pem" --key "$TLS_DIR/operator.key" \
    "$(setting "$from" URL)/exchange/directory" -o "$WORK/$from.jws"
  if ! cli "$to" partners list | grep -q "^$from "; then
    cli "$to" partners add "$from" --name "$(setting "$from" NAME)" --agreement "$AGREEMENT"
  fi
  cli "$to" partners import-directory "$from" /dev/stdin --fingerprint "$fingerprint" < "$WORK/$from.jws"
  echo "$to imported $from's signed directory (node key $fingerprint)"
done
