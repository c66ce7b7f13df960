#!/bin/sh
# make.sh: how the test TLS material in this folder was generated (run once,
# files committed; valid for 10 years). Test-only keys: never use elsewhere.
#
#   ca.pem / ca.key           a test CA ("sluice test CA")
#   server.pem / server.key   a server cert signed by that CA for
#                             SAN IP:127.0.0.1, DNS:localhost
#   untrusted.pem / .key      a self-signed cert for the same names that no
#                             test trusts (the client must refuse it)
set -eu
cd "$(dirname "$0")"
days=3650

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days $days \
  -keyout ca.key -out ca.pem -subj "/CN=sluice test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"

openssl req -newkey rsa:2048 -nodes -sha256 \
  -keyout server.key -out server.csr -subj "/CN=localhost"
cat > server.ext <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EXT
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -sha256 -days $days -extfile server.ext -out server.pem
rm -f server.csr server.ext ca.srl

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days $days \
  -keyout untrusted.key -out untrusted.pem -subj "/CN=localhost" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost"
