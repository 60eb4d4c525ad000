#!/usr/bin/env bash
# Provide promtool, prometheus, alertmanager and amtool for the test suite in .tools/bin/.
#
# For each tool: keep what .tools/bin/ already has if recent enough (no network then); else link a
# recent-enough binary found on PATH; else fetch the Debian 13 ("trixie") package with apt-get into
# private folders under .tools/apt/ (the system's apt state is never touched), verify it through the
# archive's signature as apt does, and unpack it with `dpkg -x` under .tools/root/<package>/.
# The Debian mirror is taken from this machine's own apt sources (or $TRAILWATCH_DEBIAN_MIRROR).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
APTDIR="$TOOLS/apt"
DEBS="$TOOLS/debs"
UNPACK="$TOOLS/root"
SUITE=trixie

TOOL_NAMES=(promtool prometheus alertmanager amtool)
declare -A MIN=([promtool]=2.53 [prometheus]=2.53 [alertmanager]=0.28 [amtool]=0.28)
declare -A PKG=([promtool]=promtool [prometheus]=prometheus
                [alertmanager]=prometheus-alertmanager [amtool]=prometheus-alertmanager)
declare -A DEB_PATH=([promtool]=usr/bin/promtool [prometheus]=usr/bin/prometheus
                     [alertmanager]=usr/bin/prometheus-alertmanager [amtool]=usr/bin/amtool)
# Names to look for on PATH (Debian calls the alertmanager binary prometheus-alertmanager).
declare -A PATH_NAMES=([promtool]=promtool [prometheus]=prometheus
                       [alertmanager]="alertmanager prometheus-alertmanager" [amtool]=amtool)

die() { echo "fetch-prometheus-tools: $*" >&2; exit 1; }
say() { echo "fetch-prometheus-tools: $*" >&2; }

# Version printed by `<binary> --version` ("promtool, version 2.53.3+ds1 (branch: ...)"), or "".
version_of() {
    local out
    out="$("$1" --version 2>&1 | head -n 1)" || return 0
    sed -n 's/^.* version \([0-9][0-9.]*[0-9]\).*$/\1/p' <<<"$out"
}

# version_ge VERSION MINIMUM
version_ge() {
    [[ -n "$1" ]] && [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" == "$2" ]]
}

# Prints the version if BINARY runs and is at least MINIMUM; fails otherwise.
good_version() {
    local v
    [[ -x "$1" ]] || return 1
    v="$(version_of "$1")"
    version_ge "$v" "$2" || return 1
    echo "$v"
}

# The first URI of this machine's main Debian archive (suite = this release's codename, component main).
machine_mirror() {
    local codename="" f uri
    if [[ -r /etc/os-release ]]; then
        codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    fi
    [[ -n "$codename" ]] || return 1
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r "$f" ]] || continue
        # deb822: one stanza per paragraph; keys are case-insensitive; comment lines start with '#'.
        uri="$(awk -v want="$codename" '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; uris = ""; suites = ""; comps = ""; enabled = "yes"
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^[ \t]*#/) continue
                    if (!match(line, /^[A-Za-z0-9-]+:/)) continue
                    key = tolower(substr(line, 1, RLENGTH - 1)); val = " " substr(line, RLENGTH + 1) " "
                    gsub(/[ \t]+/, " ", val)
                    if (key == "types") types = val; else if (key == "uris") uris = val
                    else if (key == "suites") suites = val; else if (key == "components") comps = val
                    else if (key == "enabled") enabled = tolower(val)
                }
                if (types ~ / deb / && suites ~ (" " want " ") && comps ~ / main / && enabled !~ /no/) {
                    split(uris, u, " "); print u[1]; exit
                }
            }' "$f")"
        [[ -n "$uri" ]] && { echo "${uri%/}"; return 0; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r "$f" ]] || continue
        # one-line format: deb [options] URI SUITE COMPONENT...
        uri="$(awk -v want="$codename" '
            $1 != "deb" { next }
            {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                uri = $i; suite = $(i + 1); main = 0
                for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
                if (suite == want && main) { print uri; exit }
            }' "$f")"
        [[ -n "$uri" ]] && { echo "${uri%/}"; return 0; }
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# 1. Decide, tool by tool, what is already fine.

mkdir -p "$BIN"
exec 9>"$TOOLS/.lock"
command -v flock >/dev/null && flock 9

declare -A VERSION=()
need_pkgs=()

add_need() {
    local p
    for p in "${need_pkgs[@]}"; do [[ "$p" == "$1" ]] && return 0; done
    need_pkgs+=("$1")
}

# Try to satisfy TOOL without network; sets VERSION[TOOL] on success.
resolve_local() {
    local tool="$1" min="${MIN[$1]}" v cand real name unpacked
    # a) what .tools/bin/ already holds
    if v="$(good_version "$BIN/$tool" "$min")"; then VERSION[$tool]="$v"; return 0; fi
    # b) a binary on PATH (not one of ours)
    for name in ${PATH_NAMES[$tool]}; do
        while IFS= read -r cand; do
            [[ -n "$cand" ]] || continue
            real="$(readlink -f "$cand")"
            [[ "$real" == "$TOOLS"/* ]] && continue
            if v="$(good_version "$real" "$min")"; then
                ln -sfn "$real" "$BIN/$tool"
                VERSION[$tool]="$v"; return 0
            fi
        done < <(type -aP "$name" 2>/dev/null || true)
    done
    # c) a package unpacked by an earlier run
    unpacked="$UNPACK/${PKG[$tool]}/${DEB_PATH[$tool]}"
    if v="$(good_version "$unpacked" "$min")"; then
        ln -sfn "../root/${PKG[$tool]}/${DEB_PATH[$tool]}" "$BIN/$tool"
        VERSION[$tool]="$v"; return 0
    fi
    return 1
}

for tool in "${TOOL_NAMES[@]}"; do
    resolve_local "$tool" || add_need "${PKG[$tool]}"
done

# ---------------------------------------------------------------------------------------------
# 2. Fetch the missing packages from Debian trixie with a private apt configuration.

if ((${#need_pkgs[@]})); then
    command -v apt-get >/dev/null || die "apt-get not found: cannot fetch ${need_pkgs[*]} (install promtool >= ${MIN[promtool]}, prometheus >= ${MIN[prometheus]}, alertmanager/amtool >= ${MIN[alertmanager]} on PATH instead)"
    command -v dpkg >/dev/null || die "dpkg not found: cannot unpack ${need_pkgs[*]}"
    mirror="${TRAILWATCH_DEBIAN_MIRROR:-}"
    if [[ -z "$mirror" ]]; then
        mirror="$(machine_mirror)" || die "no Debian main archive found in /etc/apt/sources.list{,.d/*}; set TRAILWATCH_DEBIAN_MIRROR to a Debian mirror URI"
    fi

    mkdir -p "$APTDIR"/{lists/partial,cache/archives/partial,state,keyring} "$DEBS" "$UNPACK"
    log="$APTDIR/apt.log"
    : >"$log"
    sources="$APTDIR/$SUITE.sources"

    # write_sources SUITES SIGNED_BY
    write_sources() {
        {
            echo "Types: deb"
            echo "URIs: $mirror"
            echo "Suites: $1"
            echo "Components: main"
            echo "Targets: Packages"
            if [[ -n "$2" ]]; then echo "Signed-By: $2"; fi
        } >"$sources"
    }

    apt_opts=(
        -o "Dir::Etc::SourceList=$sources"
        -o Dir::Etc::SourceParts=/dev/null
        -o Dir::Etc::Preferences=/dev/null
        -o Dir::Etc::PreferencesParts=/dev/null
        -o "Dir::State=$APTDIR/state"
        -o "Dir::State::Lists=$APTDIR/lists"
        -o Dir::State::status=/dev/null
        -o "Dir::Cache=$APTDIR/cache"
        -o APT::Update::Error-Mode=any
        -o APT::Get::AllowUnauthenticated=false
        -o Acquire::AllowInsecureRepositories=false
        -o Acquire::AllowDowngradeToInsecureRepositories=false
        -o Acquire::Languages=none
        -o Acquire::PDiffs=false
    )
    # apt drops root privileges to _apt while downloading: let _apt write into a download folder.
    sandbox_writable() { if [[ $EUID -eq 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$1"; fi; }
    private_apt() { apt-get -q "${apt_opts[@]}" "$@" >>"$log" 2>&1; }
    apt_failed() { tail -n 5 "$log" >&2; die "$1 (full apt output: $log)"; }

    # Signatures are always checked. Bookworm's keyring (2023.3+deb12u2) holds trixie's keys, and trixie's
    # InRelease is also signed with bookworm's automatic archive key. Should neither verify, take the
    # newest debian-archive-keyring of this machine's own release (verified by the system keyring), retry.
    system_keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [[ -r "$system_keyring" ]] || system_keyring=""   # then apt uses /etc/apt/trusted.gpg.d
    say "fetching ${need_pkgs[*]} from $mirror ($SUITE)"
    write_sources "$SUITE" "$system_keyring"
    if ! private_apt update; then
        codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
        [[ -n "$codename" ]] || apt_failed "apt-get update of $SUITE failed"
        say "apt-get update of $SUITE failed; retrying with the newest debian-archive-keyring of $codename"
        write_sources "$codename $codename-updates" "$system_keyring"
        # One of the two suites may fail to verify; the download below fails if neither did.
        private_apt -o APT::Update::Error-Mode=persistent update || true
        rm -rf "$APTDIR/keyring" && mkdir -p "$APTDIR/keyring" && sandbox_writable "$APTDIR/keyring"
        (cd "$APTDIR/keyring" && private_apt download debian-archive-keyring) ||
            apt_failed "could not get a verified debian-archive-keyring from $codename either"
        dpkg -x "$APTDIR"/keyring/debian-archive-keyring_*.deb "$APTDIR/keyring/x"
        write_sources "$SUITE" "$APTDIR/keyring/x/usr/share/keyrings/debian-archive-keyring.gpg"
        private_apt update || apt_failed "apt-get update of $SUITE failed (signature or network)"
    fi

    say "package index of $SUITE fetched and verified; downloading ${#need_pkgs[@]} package(s)"
    sandbox_writable "$DEBS"
    for pkg in "${need_pkgs[@]}"; do rm -f "$DEBS/${pkg}"_*.deb; done
    (cd "$DEBS" && private_apt download "${need_pkgs[@]}") || apt_failed "apt-get download ${need_pkgs[*]} failed"
    say "downloaded $(du -ch "$DEBS"/*.deb | tail -n 1 | cut -f 1)B of packages; unpacking"

    for pkg in "${need_pkgs[@]}"; do
        deb=("$DEBS/${pkg}"_*.deb)
        [[ -f "${deb[0]}" ]] || die "apt-get download did not produce $pkg"
        rm -rf "$UNPACK/$pkg.new" "$UNPACK/$pkg"
        dpkg -x "${deb[0]}" "$UNPACK/$pkg.new"
        mv "$UNPACK/$pkg.new" "$UNPACK/$pkg"
    done

    for tool in "${TOOL_NAMES[@]}"; do
        [[ -n "${VERSION[$tool]:-}" ]] && continue
        rel="../root/${PKG[$tool]}/${DEB_PATH[$tool]}"
        [[ -x "$BIN/$rel" ]] || die "$tool: ${DEB_PATH[$tool]} missing from package ${PKG[$tool]}"
        ln -sfn "$rel" "$BIN/$tool"
        v="$(version_of "$BIN/$tool")"
        version_ge "$v" "${MIN[$tool]}" ||
            die "$tool ${v:-(does not run)} from Debian $SUITE is older than the required ${MIN[$tool]}"
        VERSION[$tool]="$v"
    done
fi

# ---------------------------------------------------------------------------------------------
# 3. Report.

for tool in "${TOOL_NAMES[@]}"; do
    printf '%-13s %-8s %s -> %s\n' "$tool" "${VERSION[$tool]}" "$BIN/$tool" "$(readlink -f "$BIN/$tool")"
done
