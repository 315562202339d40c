# shellcheck shell=bash
# Python virtualenv for the tests: pytest, boto3/botocore, the AWS CLI and moto.
# Sourced by scripts/setup. Idempotent: skipped when the venv's stamp holds the sha256 of
# tests/requirements.txt.

venv=$PODIAM_CACHE/venv
requirements=$ROOT/tests/requirements.txt
want=$(sha256sum "$requirements" | cut -d' ' -f1)
stamp=$venv/.podiam-requirements.sha256

if [[ -x $venv/bin/python && -f $stamp && $(<"$stamp") == "$want" ]]; then
  log "python: venv up to date ($venv)"
else
  log "python: installing tests/requirements.txt into $venv"
  mkdir -p "$PODIAM_CACHE"
  [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
  rm -f "$stamp"
  PIP_NO_INPUT=1 "$venv/bin/pip" --disable-pip-version-check -q install -r "$requirements"
  printf '%s\n' "$want" >"$stamp"
fi
unset venv requirements want stamp
