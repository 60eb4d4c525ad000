# Condenses `pip install` output for `make`: a line every ten packages (how many, how many MB fetched, the
# latest one) and one when installing starts, so a fresh set-up is never silent for long nor a wall of text.
# pip's errors go to stderr and pass through untouched.
function report(what) { printf "make: %s\n", what; fflush() }
/^Collecting / {
    packages++
    latest = $2
    if (packages % 10 == 0) report(sprintf("%d packages resolved (%.0f MB fetched), latest %s", packages, mb, latest))
}
/^ *(Downloading|Using cached) .*\([0-9.]+ [kMG]B\)$/ {
    size = $(NF - 1)
    sub(/^\(/, "", size)
    mb += size * ($NF ~ /^kB/ ? 0.001 : ($NF ~ /^GB/ ? 1000 : 1))
}
/^Installing collected packages/ { report(sprintf("%d packages resolved (%.0f MB fetched); installing them (about a minute)", packages, mb)) }
/^Successfully installed/ { report("packages installed") }
