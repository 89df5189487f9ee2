# Sourced by the tests that compare against an independent implementation:
# `peer_python MODULE` sets PY to the Python of the venv scripts/setup.sh
# makes (target/test-venv), or fails the test when MODULE is not there.
peer_python() {
  PY="$(dirname "${BASH_SOURCE[0]}")/../../target/test-venv/bin/python"
  [ -x "$PY" ] || PY=python3
  if ! "$PY" -c "import $1" 2>/dev/null; then
    echo "FAIL no $1 for the comparison (run scripts/setup.sh)"
    echo "integration: 0 passed, 1 failed"
    exit 1
  fi
}
