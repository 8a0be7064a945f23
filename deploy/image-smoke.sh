#!/usr/bin/env bash
# Builds the CPU image and runs it end to end with podman, as docs/deploy.md describes:
# migrations, the API and a studio worker in read-only containers as user 10001 against
# PostgreSQL, one couple task, then SIGTERM to the worker mid-task: it must finish the task
# in hand, leave the rest queued with no attempt spent, and exit 0.
#
#   deploy/image-smoke.sh [BASE_IMAGE]
#
# Without BASE_IMAGE it makes a Debian bookworm base with debootstrap (no registry needed).
# Needs: podman (and runc where crun refuses a cgroup v1/v2 hybrid), debootstrap, a
# PostgreSQL at $SMOKE_PG (default: trust auth on 127.0.0.1:5432), port $SMOKE_PORT free.
# Not run by CI: it downloads ~2 GB of wheels and takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-}
PG=${SMOKE_PG:-postgresql+psycopg://postgres@127.0.0.1:5432}
PORT=${SMOKE_PORT:-18600}
DB=twoshot_smoke_$$
WORK=$(mktemp -d)
RUNTIME=()
if command -v runc >/dev/null; then RUNTIME=(--runtime runc); fi
PODMAN=(podman "${RUNTIME[@]}")
# podman's default rlimits can exceed a sandbox's hard ones
LIMITS=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)
CA=()
[ -f /etc/ssl/certs/ca-certificates.crt ] && CA=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)

cleanup() {
    "${PODMAN[@]}" rm -f "smoke-api-$$" "smoke-worker-$$" >/dev/null 2>&1 || true
    psql "postgresql://${PG#postgresql+psycopg://}/postgres" -q -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "$BASE" ]; then
    BASE=localhost/debian:bookworm
    if ! "${PODMAN[@]}" image exists "$BASE"; then
        debootstrap --variant=minbase bookworm "$WORK/rootfs" >/dev/null
        tar -C "$WORK/rootfs" -c . | "${PODMAN[@]}" import - "$BASE" >/dev/null
    fi
fi
"${PODMAN[@]}" build --network host "${LIMITS[@]}" "${CA[@]}" --build-arg "BASE=$BASE" \
    --target cpu -t localhost/twoshot:smoke . >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; exit 1; }

psql "postgresql://${PG#postgresql+psycopg://}/postgres" -q -c "CREATE DATABASE $DB"
mkdir -p "$WORK/data" && chown 10001:10001 "$WORK/data"
RUN=("${PODMAN[@]}" run "${LIMITS[@]}" --network host --read-only --tmpfs /tmp
     -v "$WORK/data:/data" -e "TWOSHOT_DATABASE_URL=$PG/$DB" -e HOME=/tmp -e MPLCONFIGDIR=/tmp/mpl)
IMAGE=localhost/twoshot:smoke

[ "$("${PODMAN[@]}" run "${LIMITS[@]}" --rm --entrypoint id "$IMAGE" -u)" = 10001 ] || { echo "runs as root"; exit 1; }
"${RUN[@]}" --rm "$IMAGE" migrate
"${RUN[@]}" -d --name "smoke-api-$$" "$IMAGE" serve --host 127.0.0.1 --port "$PORT" --workers 0 >/dev/null
"${RUN[@]}" -d --name "smoke-worker-$$" -e TWOSHOT_DRAIN_SECONDS=60 "$IMAGE" worker --engine studio >/dev/null
KEY=$("${RUN[@]}" --rm "$IMAGE" keys create --name smoke 2>/dev/null | tail -1)
URL=http://127.0.0.1:$PORT
for _ in $(seq 1 120); do curl -sf "$URL/readyz" >/dev/null && break; sleep 1; done

submit() {
    curl -sf -H "X-Api-Key: $KEY" -F maleImage=@tests/data/obama.jpg \
        -F femaleImage=@tests/data/astronaut.jpg -F "prompt=$1" "$URL/api/couple_image" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["task_id"])'
}
state() {
    curl -sf -H "X-Api-Key: $KEY" "$URL/api/task-status/$1" |
        python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["status"], d["attempts"])'
}

first=$(submit "a couple at the beach")
for _ in $(seq 1 120); do [ "$(state "$first")" = "completed 1" ] && break; sleep 1; done
[ "$(state "$first")" = "completed 1" ] || { "${PODMAN[@]}" logs "smoke-worker-$$" | tail -20; exit 1; }
echo "ok: a studio couple completed in the containers"

ids=$(for i in 1 2 3; do submit "a couple in a park $i"; done)
for _ in $(seq 1 300); do
    curl -s "$URL/metrics" | grep -q 'twoshot_tasks{status="processing"} 1.0' && break
    sleep 0.1
done
"${PODMAN[@]}" stop -t 80 "smoke-worker-$$" >/dev/null
code=$("${PODMAN[@]}" inspect "smoke-worker-$$" --format '{{.State.ExitCode}}')
states=$(for t in $ids; do state "$t"; done | sort | uniq -c | tr -s ' ')
echo "worker exit code $code; tasks:$states"
[ "$code" = 0 ] || exit 1
echo "$states" | grep -q "1 completed 1" && echo "$states" | grep -q "2 queued 0" || exit 1
echo "ok: SIGTERM drained the worker: the task in hand completed, the others still queued"
