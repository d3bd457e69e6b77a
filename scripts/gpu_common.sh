# Shared by scripts/gpu_live.sh and scripts/gpu_sglang.sh (source it): waiting for two local engine servers.
# Each server i listens on 127.0.0.1:${PORTS[i]}, its pid is in ${PREFIX}i.pid and its log in ${PREFIX}i.log.

wait_ready() {  # SECONDS PREFIX: 0 when both answer /health; 1 when one exited or SECONDS passed
  local deadline=$((SECONDS + $1)) prefix=$2 ok i
  while [ $SECONDS -lt $deadline ]; do
    ok=0
    for i in 0 1; do
      python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:${PORTS[$i]}/health', timeout=2)" 2>/dev/null && ok=$((ok + 1))
      kill -0 "$(cat ${prefix}$i.pid)" 2>/dev/null || { echo "server $i exited"; tail -30 ${prefix}$i.log; return 1; }
    done
    [ $ok = 2 ] && return 0
    sleep 2
  done
  echo "servers not ready after $1 s"; tail -15 ${prefix}0.log; return 1
}

stop_servers() {  # PREFIX: end both servers' process groups (they run under setsid)
  local i
  for i in 0 1; do kill -- -"$(cat ${1}$i.pid)" 2>/dev/null; done
  sleep 8
}
