# loomline's Claude Code hook, the fast path (docs/hooks.md). install-hooks writes it as
#   /bin/sh /.../bridge/loomline-hook.sh PYTHON [loomline hook flags...]
# Claude Code waits for this process, so it starts no Python: it starts the detached
# sender (bridge.send.after_shell_hook, in a new session, stdio on /dev/null), then writes
# the raw payload with what must be known at hook time (arrival time, the parent process
# chain for the CLI run, the flags and variables the bridge reads) to the spool, atomically
# (tmp + rename). The sender builds the record from it once this process has exited.
# Whatever this script cannot do as the Python hook would (no GNU date or /proc, a spool
# directory it cannot resolve, a spool write that fails), it hands to the Python hook
# (`loomline hook`), payload included. Nothing on stdout; exit status 0.
[ $# -gt 0 ] || exit 0
py=$1
shift
case $py in /*) ;; */*) py=$PWD/$py ;; esac  # the sender runs in /
fallback() {  # the Python hook, with whatever of stdin is still unread
    exec "$py" -P -m loomline hook "$@" >/dev/null 2>&1
    exit 0
}
[ -n "${HOME-}" ] && [ -r /proc/$$/stat ] || fallback "$@"  # no /proc (macOS): ps, in Python
spool= config= prev=
for arg do
    case $prev in
        --spool-dir) spool=$arg ;;
        --config) config=$arg ;;
    esac
    case $arg in
        --spool-dir=*) spool=${arg#*=} ;;
        --config=*) config=${arg#*=} ;;
    esac
    prev=$arg
done
spool=${spool:-${XDG_STATE_HOME:-$HOME/.local/state}/loomline/spool}
config=${config:-${LOOMLINE_HOOK_CONFIG:-${XDG_CONFIG_HOME:-$HOME/.config}/loomline/hook.json}}
case $spool in /*) ;; *) fallback "$@" ;; esac  # relative or ~ paths: Python resolves them
case $config in /*) ;; *) fallback "$@" ;; esac
if [ -f "$config" ]; then  # a spool directory from the config file: the Python hook reads JSON
    found=
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in *'"spool_dir"'*) found=1 ;; esac
    done 2>/dev/null <"$config"
    [ -z "$found" ] || fallback "$@"
fi

# The sender first: a hook killed from here on (Claude Code's time limit) still has its
# spooled payload delivered. It waits for this process to exit, then sends the spool.
# setsid(1) first, so the sender leaves this process group (a kill of the whole group takes
# everything in it) after one exec, not three.
run= detach=
command -v setsid >/dev/null 2>&1 && run="setsid" detach=1
command -v nice >/dev/null 2>&1 && run="$run nice -n 10"
(cd / && exec $run "$py" -P -c 'from bridge.send import after_shell_hook; after_shell_hook()' "$$" "$@") \
    </dev/null >/dev/null 2>&1 &
sender=$!

payload=$(cat)
case $payload in  # a compaction without prompt_id (older Claude Code) is matched to its
    *'"prompt_id"'*) ;;  # boundary by the boundaries there at hook time: the Python hook
    *'"PostCompact"'* | *'"compact"'*) printf '%s' "$payload" | fallback "$@"; exit 0 ;;
esac
now=$(date +%s%N 2>/dev/null)
case $now in
    *[!0-9]* | "") printf '%s' "$payload" | fallback "$@"; exit 0 ;;
esac
stat_of() {  # /proc/PID/stat of $1 in $line ("" if unreadable), its parent in $ppid, session in $sid
    line=
    if [ "$1" -gt 1 ] 2>/dev/null; then
        IFS= read -r line 2>/dev/null </proc/"$1"/stat || line=
    fi
    set -f
    # shellcheck disable=SC2086
    set -- ${line##*) }  # the fields after the command name (which may hold spaces and ")")
    set +f
    ppid=${2:-0} sid=${4-}
}
ancestry() {  # /proc/PID/stat of $1 and its ancestors, 4 in all ("" where unreadable)
    p=$1 n=0
    while [ "$n" -lt 4 ]; do
        stat_of "$p"
        printf '%s\0' "$line"
        p=$ppid n=$((n + 1))
    done
}
# Until the sender has left this session, a kill of this hook's group takes it too and the
# entry would wait for the next hook's sender. On a loaded machine its setsid may not have
# run yet: wait for it before the entry is written, at most ~1 s (normally it has run, and
# this is two reads).
if [ -n "$detach" ]; then
    stat_of $$
    own=$sid n=0
    while [ "$n" -lt 100 ]; do
        stat_of "$sender"
        [ -n "$sid" ] && [ "$sid" = "$own" ] || break
        if sleep 0.01 2>/dev/null; then n=$((n + 1)); else sleep 1; n=100; fi
    done
fi
name=$spool/0$now-$$-raw  # 20 digits of ns, as the Python hook names its records
{ [ -d "$spool" ] || mkdir -p "$spool" 2>/dev/null; } &&
    { printf '%s\0' "loomline-raw-hook 1" "$now" "$PPID" &&
        ancestry "$PPID" &&
        printf '%s\0' "${LOOMLINE_HOOK_ORG-}" "${LOOMLINE_HOOK_CONFIG-}" "${XDG_CONFIG_HOME-}" \
            "${XDG_STATE_HOME-}" "$HOME" "$#" "$@" &&
        printf '%s' "$payload"; } 2>/dev/null >"$name.tmp" &&
    mv -f "$name.tmp" "$name.raw" 2>/dev/null ||
    { rm -f "$name.tmp" 2>/dev/null; printf '%s' "$payload" | fallback "$@"; }
if [ -n "${LOOMLINE_HOOK_TEST_STALL_AFTER_SPOOL-}" ]; then  # tests/test_hook.py: a kill right here
    sleep "$LOOMLINE_HOOK_TEST_STALL_AFTER_SPOOL"
fi
exit 0
