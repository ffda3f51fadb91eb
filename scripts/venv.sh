# Sourced by scripts/demo and scripts/test: make (or reuse) a virtualenv and install extras into it.
# usage: make_venv DIR EXTRAS   e.g. make_venv .venv-device device
make_venv() {
    local dir=$1 extras=$2 python=${PYTHON:-python3} flags=()
    # On a Raspberry Pi, picamera2 comes from Debian (python3-picamera2): let the venv see it.
    if [ -d /usr/lib/python3/dist-packages/picamera2 ]; then flags+=(--system-site-packages); fi
    if [ ! -x "$dir/bin/python" ]; then
        "$python" -m venv "${flags[@]}" "$dir"
    fi
    local stamp="$dir/.installed-$extras"
    if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
        echo "installing piclassify[$extras] into $dir (first run only; log in $dir/install.log)" >&2
        if ! { "$dir/bin/python" -m pip install --upgrade pip &&
               "$dir/bin/python" -m pip install -e ".[$extras]"; } >"$dir/install.log" 2>&1; then
            tail -n 20 "$dir/install.log" >&2
            echo "install failed; the whole log is $dir/install.log" >&2
            return 1
        fi
        touch "$stamp"
    fi
}
