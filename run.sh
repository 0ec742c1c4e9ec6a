#!/usr/bin/env bash
# run.sh: the one entry point to cnnedu. It sets up what is missing, then does the job.
#
#   ./run.sh app  [streamlit options]   start the app (streamlit run app.py) on http://localhost:8501
#   ./run.sh test [pytest options]      run the linter (ruff) and the whole test suite (pytest)
#   ./run.sh classroom [--workers N]    a class on one server: N app processes behind HAProxy on one port
#   ./run.sh setup [app|test]           only the set-up (default: test's, which includes app's),
#                                       e.g. to prepare a laptop before going offline to a class
#
# Set-up, done on the first run and skipped afterwards:
#   * a Python 3.11+ virtual environment in .venv (PYTHON=/path/to/python picks the interpreter);
#   * the Python packages of requirements.txt (and, for `test`, requirements-dev.txt), with the
#     exact versions of constraints.txt. The file .venv/.cnnedu-installed-<app|test> holds a hash of
#     those files; pip runs again only when one of them changed (or the file is deleted);
#   * for `test` only: Debian's packages `chromium` (browser tests), `dataset-fashion-mnist` (the real
#     Fashion-MNIST test) and `haproxy` (the classroom test); for `classroom`: `haproxy`. Installed with
#     apt-get when we are root or have passwordless sudo.
#
# Works without a terminal (CI runs it with no standard input) and with macOS's old bash 3.2.
set -euo pipefail

# Always work from the repository root, wherever the script is called from.
cd "$(dirname "${BASH_SOURCE[0]}")"

readonly VENV=.venv
readonly VENV_PY="$VENV/bin/python"
readonly CHROMIUM=/usr/bin/chromium
readonly FASHION_MNIST_FILE=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
readonly HAPROXY=/usr/sbin/haproxy

export PIP_DISABLE_PIP_VERSION_CHECK=1

# Messages go to stderr, in colour only on a terminal (CI logs stay plain text).
if [[ -t 2 ]]; then
    BOLD=$'\033[1m' YELLOW=$'\033[1;33m' RED=$'\033[1;31m' RESET=$'\033[0m'
else
    BOLD="" YELLOW="" RED="" RESET=""
fi
say() { printf '%s[run.sh]%s %s\n' "$BOLD" "$RESET" "$*" >&2; }
warn() { printf '%s[run.sh] warning:%s %s\n' "$YELLOW" "$RESET" "$*" >&2; }
die() {
    printf '%s[run.sh] error:%s %s\n' "$RED" "$RESET" "$*" >&2
    exit 1
}

usage() {
    cat >&2 <<'EOF'
Usage:
  ./run.sh app  [streamlit options]   install what is missing, then start the app on localhost
  ./run.sh test [pytest options]      install what is missing, then run ruff and the test suite
  ./run.sh classroom [--workers N] [--port P] [--address A]
                                      N app processes (default: one per core) behind HAProxy on port P
  ./run.sh setup [app|test]           only install what is missing (default: everything for test)

Examples:
  ./run.sh app --server.port 8600
  ./run.sh app --server.address 0.0.0.0     # let other machines (a classroom) open it
  ./run.sh test -k spec -x                  # only the tests whose name contains "spec"
  ./run.sh test -m "not e2e"                # skip the real-browser tests
EOF
}

# --- Python --------------------------------------------------------------------------------------

# True when the interpreter $1 runs and is Python 3.11 or newer.
is_python311() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

# Prints the path of the first Python 3.11+ found: $PYTHON if set, else the usual names on PATH.
find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11 python; do
        [[ -n "$candidate" ]] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if is_python311 "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# Makes sure .venv exists, runs Python 3.11+ and has pip. An existing .venv is reused as it is
# (so one prepared by hand, e.g. with the CPU-only PyTorch, is kept).
ensure_venv() {
    if [[ -x "$VENV_PY" ]]; then
        is_python311 "$VENV_PY" ||
            die "$VENV exists but its Python does not run or is older than 3.11. Delete the folder ($VENV) and run this again."
    else
        local python
        python="$(find_python)" ||
            die "Python 3.11 or newer is needed and none was found (tried \$PYTHON, python3, python3.13, python3.12, python3.11, python). Install one (e.g. 'sudo apt-get install python3', or from python.org), or point PYTHON at it: PYTHON=/path/to/python3.12 ./run.sh ..."
        say "Creating the virtual environment $VENV with $python ($("$python" --version 2>&1))"
        "$python" -m venv "$VENV" ||
            die "'$python -m venv' failed. On Debian/Ubuntu install the venv module: sudo apt-get install python3-venv (then delete $VENV and run this again)."
    fi
    if ! "$VENV_PY" -m pip --version >/dev/null 2>&1; then
        say "pip is missing from $VENV; adding it with ensurepip"
        "$VENV_PY" -m ensurepip --upgrade >/dev/null ||
            die "$VENV has no pip and ensurepip failed. On Debian/Ubuntu: sudo apt-get install python3-venv, then delete $VENV and run this again."
    fi
}

# Prints a hash of the Python version and of the given files (names and contents).
requirements_hash() {
    "$VENV_PY" - "$@" <<'EOF'
import hashlib
import sys

digest = hashlib.sha256(sys.version.encode())
for name in sys.argv[1:]:
    digest.update(name.encode())
    with open(name, "rb") as file:
        digest.update(file.read())
print(digest.hexdigest())
EOF
}

# Installs the Python packages for mode $1 (app or test), unless the stamp says they already are.
ensure_python_packages() {
    local mode="$1"
    local stamp="$VENV/.cnnedu-installed-$mode"
    local requirement_files="requirements.txt"
    if [[ "$mode" == test ]]; then
        requirement_files="requirements.txt requirements-dev.txt"
    fi

    local wanted
    # shellcheck disable=SC2086  # the file names are ours and contain no spaces
    wanted="$(requirements_hash $requirement_files constraints.txt)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        say "Python packages are installed ($requirement_files and constraints.txt unchanged since the last install; delete $stamp to force a re-install)"
        return 0
    fi

    local pip_args="" file
    for file in $requirement_files; do
        pip_args="$pip_args -r $file"
    done
    say "Installing Python packages: pip install$pip_args -c constraints.txt"
    say "(a fresh install downloads PyTorch: on Linux several GB with its CUDA libraries; README, 'CPU-only PyTorch', has a smaller choice)"
    # shellcheck disable=SC2086
    "$VENV_PY" -m pip install $pip_args -c constraints.txt ||
        die "pip install failed (see its message above). Fix it and run this again; nothing is marked as installed."
    printf '%s\n' "$wanted" >"$stamp"
}

# --- System packages (tests only) ----------------------------------------------------------------

# Installs the Debian packages given as name=path (each needed at that path) when missing and we are
# allowed to; otherwise says what to install and goes on (what needs them then fails with a message).
ensure_system_packages() {
    local missing="" item
    for item in "$@"; do
        [[ -e "${item#*=}" ]] || missing="$missing ${item%%=*}"
    done
    if [[ -z "$missing" ]]; then
        say "System packages are installed:$(printf ' %s' "${@%%=*}")"
        return 0
    fi

    # How to become root: we already are, or passwordless sudo; otherwise we cannot install.
    local as_root=""
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
            as_root="sudo -n"
        else
            as_root="cannot"
        fi
    fi

    if [[ "$as_root" == cannot ]] || ! command -v apt-get >/dev/null 2>&1; then
        warn "Missing system packages:$missing."
        warn "Install them with: sudo apt-get install$missing"
        warn "Without them what needs them fails (browser tests, the real Fashion-MNIST test, the classroom proxy). Going on."
        return 0
    fi

    say "Installing system packages:$missing (apt-get update, then apt-get install)"
    # shellcheck disable=SC2086  # $as_root is empty or "sudo -n"; $missing is a list of names
    if $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing; then
        say "Installed:$missing"
    else
        warn "apt-get could not install:$missing. Install them by hand (sudo apt-get install$missing);"
        warn "until then what needs them fails. Going on."
    fi
}

TEST_PACKAGES=("chromium=$CHROMIUM" "dataset-fashion-mnist=$FASHION_MNIST_FILE" "haproxy=$HAPROXY")

# --- Commands ------------------------------------------------------------------------------------

cmd_app() {
    [[ -f app.py ]] || die "app.py is missing from $(pwd); is this a complete checkout of cnnedu?"
    ensure_venv
    ensure_python_packages app
    say "Starting the app: streamlit run app.py $*"
    say "Open the URL printed below in a browser; stop the app with Ctrl+C."
    exec "$VENV_PY" -m streamlit run app.py "$@"
}

cmd_classroom() {
    [[ -f app.py ]] || die "app.py is missing from $(pwd); is this a complete checkout of cnnedu?"
    ensure_venv
    ensure_python_packages app
    ensure_system_packages "haproxy=$HAPROXY"
    say "Starting the classroom set-up: python -m cnnedu.classroom $*"
    exec "$VENV_PY" -m cnnedu.classroom "$@"
}

cmd_test() {
    ensure_venv
    ensure_python_packages test
    ensure_system_packages "${TEST_PACKAGES[@]}"

    local ruff_status=0 pytest_status=0
    say "ruff check ."
    "$VENV_PY" -m ruff check . || ruff_status=$?

    say "python -m pytest $*"
    "$VENV_PY" -m pytest "$@" || pytest_status=$?

    # pytest's own exit code wins (5 means "no tests ran" and stays a failure); then ruff's.
    if [[ "$pytest_status" -ne 0 ]]; then
        say "pytest failed (exit code $pytest_status)"
        exit "$pytest_status"
    fi
    if [[ "$ruff_status" -ne 0 ]]; then
        say "the tests passed but ruff found problems (see above); 'ruff check --fix .' fixes many"
        exit "$ruff_status"
    fi
}

cmd_setup() {
    local mode="${1:-test}"
    case "$mode" in
    app | test) ;;
    *) die "unknown set-up '$mode': use ./run.sh setup app, or ./run.sh setup test" ;;
    esac
    ensure_venv
    ensure_python_packages "$mode"
    if [[ "$mode" == test ]]; then
        ensure_system_packages "${TEST_PACKAGES[@]}"
    fi
    say "Set-up for '$mode' is complete."
}

main() {
    local command="${1:-}"
    if [[ $# -gt 0 ]]; then
        shift
    fi
    case "$command" in
    app) cmd_app "$@" ;;
    classroom) cmd_classroom "$@" ;;
    test) cmd_test "$@" ;;
    setup) cmd_setup "$@" ;;
    -h | --help | help)
        usage
        ;;
    *)
        usage
        exit 2
        ;;
    esac
}

main "$@"
