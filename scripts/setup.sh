#!/usr/bin/env bash
# Bring a machine to the state `make test` and `make demo` need, and do nothing that is
# already done: a .venv with Quorum installed, a Docker engine that answers, the base images.
set -euo pipefail

cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

venv_only=0
[[ "${1:-}" == "--venv-only" ]] && venv_only=1  # `make lint` needs no engine or images

say() { printf '==> %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# --- Python environment ---------------------------------------------------------------
python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

if [[ ! -x .venv/bin/python ]]; then
    py=""
    for candidate in "${PYTHON:-}" python3.11 python3; do
        if [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null && python_ok "$candidate"; then
            py="$candidate"
            break
        fi
    done
    [[ -n "$py" ]] || die "Python 3.11+ not found; install python3.11 (or set PYTHON=/path/to/python)"
    say "creating .venv with $py ($("$py" --version 2>&1))"
    "$py" -m venv .venv
fi

stamp=.venv/.quorum-installed
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    say "installing Quorum, its dev tools and the embedded-model server into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    # `embedded` is llama-cpp-python for the local model, which the demo and the embedded
    # tests need. It compiles from source the first time (5-12 min on 2 cores); pip caches
    # the wheel, so later installs take seconds.
    say "(the first install compiles llama-cpp-python: several minutes)"
    # `swebench` (environment specs, log parsers), `gpu` (torch==2.13.0, the CPU wheel on
    # this machine's disk, and transformers) and `ray` (the bench's Ray executor, tested on
    # a local cluster) are there so their tests run rather than skip.
    .venv/bin/python -m pip install --quiet -e '.[dev,embedded,swebench,gpu,ray,app]'
    touch "$stamp"
else
    say ".venv is up to date"
fi

if ((venv_only)); then
    exit 0
fi

# --- GitHub's API descriptions (the GitHub stand-in checks every request against them) ----
if [[ ! -d tests/node_modules/@octokit/openapi ]]; then
    command -v npm >/dev/null || die "npm not found; install Node.js 18+ (apt-get install npm)"
    say "installing GitHub's OpenAPI and webhook descriptions into tests/node_modules"
    npm ci --prefix tests --no-audit --no-fund --silent
fi

# --- Docker engine and debootstrap ------------------------------------------------------
engine_answers() { timeout 10 docker info >/dev/null 2>&1; }
is_root() { [[ "$(id -u)" == 0 ]]; }

missing=()
# The docker CLI alone is not enough (some images ship it without the engine): need dockerd.
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v chromium >/dev/null || missing+=(chromium)  # the report tests open report.html in it
# the official-image tests push to and pull from a real registry on loopback
command -v docker-registry >/dev/null || missing+=(docker-registry)
if ((${#missing[@]})); then
    if is_root && command -v apt-get >/dev/null; then
        say "installing ${missing[*]} with apt-get"
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        # Debian's docker-registry starts a registry on :5000, every interface, where systemd
        # runs: the tests start their own on loopback; nothing else should listen.
        if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null; then
            systemctl disable --now docker-registry >/dev/null 2>&1 || true
        fi
    elif [[ " ${missing[*]} " == *" docker.io "* ]]; then
        die "Docker is not installed and this is not a root Debian/Ubuntu shell. Install Docker" \
            "(https://docs.docker.com/engine/install/) and debootstrap, then rerun make setup."
    else
        say "warning: ${missing[*]} missing: base images need debootstrap, the report tests chromium, the official-image tests docker-registry (apt-get install ${missing[*]} as root)"
    fi
fi

if engine_answers; then
    say "Docker engine answers"
elif [[ -n "${DOCKER_HOST:-}" ]]; then
    die "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine or unset DOCKER_HOST"
elif is_root; then
    log=/var/log/quorum-dockerd.log
    if ! pgrep -x dockerd >/dev/null; then
        # A pid file left by a killed dockerd makes a new one refuse to start.
        if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
            rm -f /var/run/docker.pid
        fi
        say "starting dockerd in the background (log: $log)"
        # setsid: the engine outlives this script and a Ctrl-C in make.
        setsid nohup dockerd >"$log" 2>&1 </dev/null &
    fi
    for _ in $(seq 60); do
        engine_answers && break
        sleep 1
    done
    engine_answers || { tail -n 20 "$log" >&2 || true; die "dockerd did not answer within 60 s (log: $log)"; }
    say "Docker engine answers"
else
    die "the Docker engine does not answer and this shell is not root. Start it" \
        "(sudo systemctl start docker, or sudo dockerd &) and add yourself to the docker group."
fi

# --- Base images (content-keyed: present ones are not rebuilt) --------------------------
.venv/bin/quorum images build-base --suite all
say "setup done"
