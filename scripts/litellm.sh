#!/usr/bin/env bash
# A local LiteLLM proxy with mock models, for `llm-contract run --live --target litellm`.
#
#   scripts/litellm.sh start     install the pinned LiteLLM into .venv-litellm/ if missing, write a
#                                config and a fresh master key to .litellm/, start the proxy on
#                                127.0.0.1:<free port> and wait (bounded) until it answers
#   eval "$(scripts/litellm.sh env)"
#                                export LITELLM_BASE_URL and LITELLM_API_KEY for the running proxy
#   scripts/litellm.sh status    say whether it runs (exit 0) or not (exit 3)
#   scripts/litellm.sh stop      stop it: SIGTERM, then SIGKILL after a bounded wait
#   scripts/litellm.sh install   only install (start does it when needed)
#
# Settings (environment): LITELLM_VENV (default <repo>/.venv-litellm), LITELLM_STATE_DIR (default
# <repo>/.litellm), LITELLM_PORT (default: a free port), LITELLM_START_TIMEOUT (seconds, default
# 90), PYTHON (default python3).
#
# Everything stays on this machine: the proxy binds 127.0.0.1, its only model answers from
# LiteLLM's `mock_response` (its api_base is a closed loopback port, should the mock ever be
# bypassed), and the remote fetches LiteLLM makes at start (model cost map, blog posts, policy
# templates, ...) are switched to the copies bundled in the package.
set -euo pipefail

# 1.106.2 is the newest release whose dependencies resolve on PyPI today: 1.106.3 and later
# (1.106.x patches, 1.108.x, 1.109.x) require certifi>=2026.10.19, which PyPI does not serve yet.
# No 1.107.x is served (a third-party audit package describes 1.107.0 as a compromised upload);
# 1.82.7/1.82.8 were compromised uploads (March 2026), since removed. The .pth check after the
# install refuses an environment where such a release slipped in.
LITELLM_VERSION=1.106.2
# LiteLLM's images ship the `prisma` module; a plain install of the proxy extra does not, and
# without it the proxy answers a request without a key with a bare 500 instead of its 401. The
# module alone (no database, no generated client, no engine download) is enough for that.
PRISMA_VERSION=0.15.0
MODEL=llm-contract-mock
# The mock embedding model (POST /v1/embeddings answers mock_response, a fixed vector).
EMBED_MODEL=llm-contract-embed
# The chat catalogue's extra mock models (contracts/targets/litellm.yaml names them as vars).
TOOL_MODEL=llm-contract-mock-tools
JSON_MODEL=llm-contract-mock-json
LENGTH_MODEL=llm-contract-mock-length
TIME_TOOL_MODEL=llm-contract-mock-time-tool
LONG_MODEL=llm-contract-mock-context
# The mock image model (POST /v1/images/generations answers mock_response as the one image's URL).
IMAGE_MODEL=llm-contract-image

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${LITELLM_VENV:-$ROOT/.venv-litellm}
STATE=${LITELLM_STATE_DIR:-$ROOT/.litellm}
START_TIMEOUT=${LITELLM_START_TIMEOUT:-90}
STOP_TIMEOUT=20
PYTHON=${PYTHON:-python3}
PIN_LIST=("litellm[proxy]==$LITELLM_VERSION" "prisma==$PRISMA_VERSION")
PINS="${PIN_LIST[*]}"

# Start LiteLLM offline: no cost-map, blog-post, policy-template, autorouter-preset or Anthropic
# beta-header fetches (the bundled copies are used), no telemetry, no feedback banner.
OFFLINE_ENV=(
  LITELLM_LOCAL_MODEL_COST_MAP=True
  LITELLM_LOCAL_BLOG_POSTS=True
  LITELLM_LOCAL_POLICY_TEMPLATES=True
  LITELLM_LOCAL_AUTOROUTER_PRESETS=True
  LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS=True
  LITELLM_TELEMETRY=False
  LITELLM_DONT_SHOW_FEEDBACK_BOX=True
  DISABLE_SCHEMA_UPDATE=True
  HF_HUB_OFFLINE=1
)

say() { printf 'litellm.sh: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

need_python() {
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    die "$PYTHON is missing: LiteLLM is a Python package. Install Python 3.10-3.14 with its venv module (Debian/Ubuntu: apt-get install python3 python3-venv), or point PYTHON at one, then run this again."
  fi
  if ! "$PYTHON" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 15) else 1)'; then
    die "LiteLLM $LITELLM_VERSION needs Python 3.10-3.14; $PYTHON is $("$PYTHON" -V 2>&1). Point PYTHON at another one."
  fi
  if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    die "$PYTHON has no venv/ensurepip module (Debian/Ubuntu: apt-get install python3-venv)."
  fi
}

installed() {
  [[ -x $VENV/bin/litellm && -f $VENV/.llm-contract-pins && "$(cat "$VENV/.llm-contract-pins")" == "$PINS" ]]
}

install() {
  if installed; then
    return 0
  fi
  need_python
  mkdir -p "$STATE"
  local t0=$SECONDS log=$STATE/install.log
  if [[ ! -x $VENV/bin/python ]]; then
    say "creating a virtualenv in $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  say "installing $PINS into $VENV from PyPI (about a minute; ~750 MB; log: $log)"
  # pip bounds each network read itself (--timeout, seconds, with its own retries).
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --timeout 60 \
    "${PIN_LIST[@]}" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "pip install failed (full log: $log)"
  fi
  # A release that ships a litellm*.pth runs code in every Python start (the 2026 compromised
  # uploads did): refuse such an environment.
  local pth
  pth=$(find "$VENV/lib" -maxdepth 3 -path '*site-packages/*' -iname '*litellm*.pth')
  if [[ -n $pth ]]; then
    die "refusing the install: it ships $pth, which would run at every Python start. Delete $VENV."
  fi
  printf '%s' "$PINS" >"$VENV/.llm-contract-pins"
  say "installed LiteLLM $LITELLM_VERSION in $((SECONDS - t0)) s"
}

pid_of() { cat "$STATE/pid" 2>/dev/null || true; }
port_of() { cat "$STATE/port" 2>/dev/null || true; }

# The recorded PID is alive and is still a LiteLLM process (not a recycled PID).
running() {
  local pid
  pid=$(pid_of)
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  ps -p "$pid" -o args= 2>/dev/null | grep -q litellm
}

free_port() {
  "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# GET /v1/models with the master key: 0 when the proxy answers 200 and serves the mock model.
answers() {
  LITELLM_MASTER_KEY=$(cat "$STATE/master_key") "$PYTHON" - "$1" "$MODEL" <<'EOF'
import json, os, sys, urllib.request
port, model = sys.argv[1], sys.argv[2]
req = urllib.request.Request(
    f"http://127.0.0.1:{port}/v1/models",
    headers={"Authorization": "Bearer " + os.environ["LITELLM_MASTER_KEY"]},
)
try:
    with urllib.request.urlopen(req, timeout=3) as r:
        ids = [m.get("id") for m in json.load(r).get("data", [])]
except Exception:
    sys.exit(1)
sys.exit(0 if model in ids else 1)
EOF
}

write_config() {
  cat >"$STATE/config.yaml" <<EOF
# Written by scripts/litellm.sh start; the master key comes from the environment
# (LITELLM_MASTER_KEY, made up at start and kept in master_key beside this file).
model_list:
  - model_name: $MODEL
    litellm_params:
      model: openai/$MODEL
      # Answered by LiteLLM itself: no upstream is called. The api_base is a closed loopback
      # port, so nothing could leave the machine even if the mock were bypassed.
      mock_response: pong
      api_base: http://127.0.0.1:9/v1
  # Embeddings: LiteLLM's mock_embedding answers this vector (exact in 32-bit floats) whatever
  # the request asks (dimensions, encoding_format), with usage prompt_tokens 10.
  - model_name: $EMBED_MODEL
    litellm_params:
      model: openai/$EMBED_MODEL
      mock_response: [0.0078125, -0.015625, 0.03125, -0.0625, 0.125, -0.25, 0.5, -0.75]
      api_base: http://127.0.0.1:9/v1
    model_info:
      mode: embedding
  # The chat catalogue's other behaviours, each a mock LiteLLM produces itself (litellm/main.py
  # mock_completion): two get_weather tool calls and a get_time call without arguments (a mock_response given as a whole completion, which
  # LiteLLM answers as it is: finish_reason tool_calls; mock_tool_calls would answer "stop"), an
  # answer cut at max_tokens, a JSON answer for response_format cases, and the context-window
  # error (a mock_response naming litellm.ContextWindowExceededError raises it). A whole-completion
  # mock cannot stream (LiteLLM 1.106.2 answers stream true with a 500), so the litellm target
  # declares streamed tool calls not offered. Same closed api_base as above.
  - model_name: $TOOL_MODEL
    litellm_params:
      model: openai/$TOOL_MODEL
      mock_response:
        choices:
          - index: 0
            finish_reason: tool_calls
            message:
              role: assistant
              content: null
              tool_calls:
                - id: call_mock_paris
                  type: function
                  function: {name: get_weather, arguments: '{"city": "Paris"}'}
                - id: call_mock_tokyo
                  type: function
                  function: {name: get_weather, arguments: '{"city": "Tokyo"}'}
        usage: {prompt_tokens: 80, completion_tokens: 40, total_tokens: 120}
      api_base: http://127.0.0.1:9/v1
  - model_name: $TIME_TOOL_MODEL
    litellm_params:
      model: openai/$TIME_TOOL_MODEL
      mock_response:
        choices:
          - index: 0
            finish_reason: tool_calls
            message:
              role: assistant
              content: null
              tool_calls:
                - id: call_mock_time
                  type: function
                  function: {name: get_time, arguments: '{}'}
        usage: {prompt_tokens: 60, completion_tokens: 10, total_tokens: 70}
      api_base: http://127.0.0.1:9/v1
  - model_name: $LENGTH_MODEL
    litellm_params:
      model: openai/$LENGTH_MODEL
      mock_response:
        choices:
          - index: 0
            finish_reason: length
            message: {role: assistant, content: The old keeper climbed}
        usage: {prompt_tokens: 21, completion_tokens: 5, total_tokens: 26}
      api_base: http://127.0.0.1:9/v1
  - model_name: $JSON_MODEL
    litellm_params:
      model: openai/$JSON_MODEL
      mock_response: '{"city": "Paris", "population": 2100000}'
      api_base: http://127.0.0.1:9/v1
  - model_name: $LONG_MODEL
    litellm_params:
      model: openai/$LONG_MODEL
      mock_response: litellm.ContextWindowExceededError
      api_base: http://127.0.0.1:9/v1
  # Images: LiteLLM's mock_image_generation answers {data: [{url: mock_response}]} whatever the
  # request asks (n and size are not looked at). The model behind it is named dall-e-3 so that
  # LiteLLM lets response_format through (for a model it does not know, it refuses the parameter
  # with a 400 UnsupportedParamsError); the mock answers before any upstream is called.
  - model_name: $IMAGE_MODEL
    litellm_params:
      model: openai/dall-e-3
      mock_response: https://example.invalid/images/llm-contract-mock.png
      api_base: http://127.0.0.1:9/v1
    model_info:
      mode: image_generation
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  # No periodic GET <api_base>/v1/models to learn the upstream's token limits (there is none).
  disable_model_info_refresh: true
EOF
}

stop_pid() {
  local pid=$1 deadline
  kill -TERM "$pid" 2>/dev/null || return 0
  deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid still there after ${STOP_TIMEOUT} s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 5))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.2
    done
  fi
}

start() {
  if running; then
    say "already running: pid $(pid_of), http://127.0.0.1:$(port_of)/v1"
    return 0
  fi
  install
  need_python
  (umask 077 && mkdir -p "$STATE")
  chmod 700 "$STATE"
  rm -f "$STATE/pid" "$STATE/port"
  local port key pid t0=$SECONDS deadline
  port=${LITELLM_PORT:-$(free_port)}
  key=$("$PYTHON" -c 'import secrets; print("sk-" + secrets.token_hex(24))')
  (umask 077 && printf '%s\n' "$key" >"$STATE/master_key")
  write_config
  (
    export LITELLM_MASTER_KEY=$key
    export "${OFFLINE_ENV[@]}"
    cd "$STATE"
    exec nohup "$VENV/bin/litellm" --config "$STATE/config.yaml" --host 127.0.0.1 --port "$port" \
      </dev/null >"$STATE/litellm.log" 2>&1
  ) &
  pid=$!
  printf '%s\n' "$pid" >"$STATE/pid"
  printf '%s\n' "$port" >"$STATE/port"
  printf '%s\n' "$LITELLM_VERSION" >"$STATE/version"
  deadline=$((SECONDS + START_TIMEOUT))
  until answers "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$STATE/litellm.log" >&2 || true
      rm -f "$STATE/pid" "$STATE/port"
      die "LiteLLM exited while starting (log: $STATE/litellm.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$STATE/litellm.log" >&2 || true
      stop_pid "$pid"
      rm -f "$STATE/pid" "$STATE/port"
      die "LiteLLM did not answer on 127.0.0.1:$port within ${START_TIMEOUT} s (log: $STATE/litellm.log)"
    fi
    sleep 1
  done
  say "LiteLLM $LITELLM_VERSION answers on http://127.0.0.1:$port/v1 (pid $pid, model $MODEL, up in $((SECONDS - t0)) s; log: $STATE/litellm.log)"
  say "next: eval \"\$(scripts/litellm.sh env)\" && cargo run --release -- run --live --target litellm"
}

stop() {
  local pid
  pid=$(pid_of)
  if running; then
    stop_pid "$pid"
    say "stopped pid $pid"
  else
    say "not running"
  fi
  rm -f "$STATE/pid" "$STATE/port" "$STATE/master_key"
}

status() {
  if running; then
    local port
    port=$(port_of)
    if answers "$port"; then
      echo "running: LiteLLM $(cat "$STATE/version" 2>/dev/null || echo '?'), pid $(pid_of), http://127.0.0.1:$port/v1, model $MODEL, log $STATE/litellm.log"
    else
      echo "running but not answering: pid $(pid_of), port $port, log $STATE/litellm.log"
    fi
    return 0
  fi
  echo "not running"
  return 3
}

env_lines() {
  running || die "not running: start it with scripts/litellm.sh start"
  printf "export LITELLM_BASE_URL='http://127.0.0.1:%s/v1'\n" "$(port_of)"
  printf "export LITELLM_API_KEY='%s'\n" "$(cat "$STATE/master_key")"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) env_lines ;;
  install) install ;;
  *)
    echo "usage: scripts/litellm.sh start|stop|status|env|install" >&2
    exit 2
    ;;
esac
