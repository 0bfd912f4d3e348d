#!/bin/sh
# Traffic for the docker-compose example: podinfo's routes through Envoy, a few with errors (5xx)
# and a few that match no route ("[DEFAULT]"). POSIX sh + curl (the curlimages/curl image).
#   TARGET  base URL (default http://envoy:10000)
#   ROUNDS  rounds to send, 0 = until stopped (default 0)
#   PAUSE   seconds between rounds (default 1)
TARGET=${TARGET:-http://envoy:10000}
ROUNDS=${ROUNDS:-0}
PAUSE=${PAUSE:-1}

hit() {  # hit METHOD PATH [BODY]
  if [ -n "$3" ]; then
    curl -s -o /dev/null -m 10 -X "$1" -H 'Content-Type: application/json' --data "$3" "$TARGET$2" || true
  else
    curl -s -o /dev/null -m 10 -X "$1" "$TARGET$2" || true
  fi
}

round=0
while [ "$ROUNDS" -eq 0 ] || [ "$round" -lt "$ROUNDS" ]; do
  hit GET /
  hit GET /
  hit GET /healthz
  hit GET /readyz
  hit GET /version
  hit GET /api/info
  hit GET /env
  hit POST /echo '{"hello": "routegen"}'
  hit POST /api/echo '{"hello": "routegen"}'
  hit GET /status/200
  hit GET /status/404
  hit GET /delay/1
  hit POST /store 'some data'
  hit GET /store/0ff1ce
  hit GET /swagger.json
  # every 5th round: server errors
  if [ $((round % 5)) -eq 0 ]; then
    hit GET /status/500
    hit GET /status/503
  fi
  # every 3rd round: paths no route names
  if [ $((round % 3)) -eq 0 ]; then
    hit GET /does-not-exist
    hit DELETE /healthz
  fi
  round=$((round + 1))
  sleep "$PAUSE"
done
