#!/usr/bin/env bash
# The compose example's secrets, generated on the operator's machine (never committed):
# a private CA, a TLS certificate per node (server and client: the nodes use mutual TLS) and one for
# the operator's own calls, the PostgreSQL password, each node's database URL and key passphrase.
#
#   deploy/make-secrets.sh [DIR]        # default: deploy/secrets beside this script
#
# An existing DIR is kept as it is (its CA signed the nodes' certificates; replace it on purpose).
# DIR is 0700; the files in it are 0644 so that the containers' own user (not yours) can read the
# ones compose mounts under /run/secrets; nobody else on the host can reach them through DIR.
# A national deployment takes its certificates from the administration's PKI instead.
set -euo pipefail
DIR=${1:-"$(dirname "$0")/secrets"}
if [ -e "$DIR/ca.pem" ]; then echo "secrets already in $DIR: kept"; exit 0; fi
mkdir -p "$DIR" && chmod 700 "$DIR" && cd "$DIR"
DAYS=825

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -subj "/CN=cmaa compose CA" -days $DAYS -out ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
for name in node-no node-jp operator; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" 2>/dev/null
  openssl req -new -key "$name.key" -subj "/CN=$name" -out "$name.csr"
  printf '%s\n' "subjectAltName=DNS:$name,DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth,clientAuth" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days $DAYS \
    -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm "$name.csr" "$name.ext"
done

secret() { openssl rand -base64 48 | tr -d '\n/+='; }
secret > postgres-password
for node in no jp; do
  echo "postgresql://postgres:$(cat postgres-password)@postgres:5432/cmaa_$node" > "$node-database-url"
  secret > "$node-key-passphrase"
done
chmod 644 ./*                         # what compose mounts: read by the containers' user
chmod 600 ca.key ca.srl operator.key   # never mounted: yours alone
echo "secrets written to $(pwd)"
