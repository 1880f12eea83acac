#!/usr/bin/env bash
# Mutation scores, measured a shard at a time so that they can be resumed across sessions: the
# reference Authority's with only the conformance suite as the test, and the Consumer library's
# with only the Consumer profile. See conformance/README.md, "Mutation score".
#
#   conformance/mutants/run.sh TARGET shard K N     run shard K of N (0-based: 0..N-1, round-robin
#                                                   over every target file) and record its outcomes
#                                                   in conformance/mutants/<record>.shard-KK-of-NN.txt
#   conformance/mutants/run.sh TARGET rerun REGEX   re-run the mutants whose names match REGEX (a
#                                                   timeout, or a survivor after new vectors) and
#                                                   append their outcomes to <record>.rerun.txt
#   conformance/mutants/run.sh TARGET prepare       make the copy and build the test in it once
#   conformance/mutants/run.sh TARGET list          the mutants in scope at this commit
#   conformance/mutants/run.sh TARGET summary       total every record, per commit and file; each
#                                                   survivor with its class from <record>.classes.txt
#                                                   and the score three ways (all viable, leaving
#                                                   out A, leaving out A and B)
#
# TARGET is one of
#   authority  impl/src/core.rs, seal.rs, store.rs, server/*.rs and the server side of
#              impl/protocol/src/hawk.rs; the test: every vector against the reference Authority
#              (tests/reference.rs); <record> is <commit>; copy ${TMPDIR:-/tmp}/tessera-mutants
#   consumer   impl/consumer/src/*.rs; the test: every scenario of the Consumer profile against
#              the reference Consumer (tests/consumer_profile.rs); <record> is consumer-<commit>;
#              copy ${TMPDIR:-/tmp}/tessera-mutants-consumer
# and may be left out for `authority` (`run.sh shard K N`, the form before the Consumer target).
#
# The mutated copy is the committed tree of HEAD, or of $MUTANTS_COMMIT (git archive), in
# $MUTANTS_COPY; its target/ is kept between runs, so only the first build is slow. cargo-mutants
# runs under `nice -n 19`, one mutant at a time; $MUTANTS_TIMEOUT (default 300 s for authority,
# 120 s for consumer) cuts a hang. The lead's benchmarks stop nice-19 jobs for minutes at a time:
# re-run a timeout before counting it. Needs cargo-mutants 27.1 (`cargo install cargo-mutants
# --locked`).
#
# Speed: a mutant's time is almost all the rebuild of the mutated crate(s) and the links of the
# test binary (and of the runner binary cargo builds beside it); the test itself runs 2-10 s.
# Debug info is most of what those steps write, so the copy gets a .cargo/config.toml that
# builds the workspace's own crates without it and links the suite's binaries with it stripped
# (the dependencies' DWARF too): the code under test is the same, only DWARF is left out (panics
# still name their place). Per-package settings, so the dependencies already built stay built.
# MUTANTS_FAST=0 leaves cargo's defaults (full debug info), MUTANTS_FAST=env the Consumer
# runner's former settings (CARGO_PROFILE_{DEV,TEST}_DEBUG=0 for every crate, mold), both for
# comparison. The linker is already
# rust-lld (rustc's default on x86_64 Linux since 1.90). Measured side by side in
# conformance/README.md, "Mutation score".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel)

target=authority
case "${1:-}" in authority | consumer)
    target=$1
    shift
    ;;
esac

case "$target" in
authority)
    record_prefix=
    title=
    copy=${MUTANTS_COPY:-${TMPDIR:-/tmp}/tessera-mutants}
    timeout=${MUTANTS_TIMEOUT:-300}
    test_binary=reference
    # The reference Authority. impl/src/pkce.rs is gone (PKCE withdrawn in v1.1).
    files=(
        -f impl/src/core.rs
        -f impl/src/seal.rs
        -f impl/protocol/src/hawk.rs
        -f 'impl/src/server/*.rs'
        -f impl/src/store.rs
    )
    # The client side of hawk.rs: only Consumers call these (impl/consumer), never the
    # Authority, so the Authority profile cannot reach them. They belong to the Consumer
    # profile's score.
    exclude=(
        -E 'client_authorization_header'
        -E 'authenticate_response'
        -E 'verify_stale_timestamp_header'
        -E 'generate_nonce'
        -E 'Artifacts::with_'
        -E 'check_optional'
    )
    # The test: only the conformance suite, every vector against the reference Authority over HTTP.
    test_args=(
        --test-package tessera-conformance
        --cargo-test-arg=--test --cargo-test-arg=reference
        -- every_vector_passes_against_the_reference_authority
    )
    ;;
consumer)
    record_prefix=consumer-
    title="tessera-consumer, "
    copy=${MUTANTS_COPY:-${TMPDIR:-/tmp}/tessera-mutants-consumer}
    # a test run takes ~2 s; a hang (a mutant that loops) is cut at this many seconds
    timeout=${MUTANTS_TIMEOUT:-120}
    test_binary=consumer_profile
    files=(-f 'impl/consumer/src/*.rs')
    exclude=()
    # The test: only the Consumer profile, every scenario of consumer-vectors/ against the
    # reference Consumer (the demo Consumer on the library, in test mode), over HTTP.
    test_args=(
        --test-package tessera-conformance
        --cargo-test-arg=--test --cargo-test-arg=consumer_profile
        -- every_scenario_passes_against_the_reference_consumer
    )
    ;;
esac

if [ "${MUTANTS_FAST:-1}" = env ]; then
    # the Consumer runner's former settings, for comparison (prepare and the mutants alike): no
    # debug info for anything (dependencies too: switching rebuilds them), and mold if installed
    export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0
    if command -v mold >/dev/null; then
        export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-fuse-ld=mold"
    fi
fi

# The commit the figures are for: the last one that changed anything but docs and these records
# (so committing a shard's results does not start a new measurement).
# MUTANTS_COMMIT=<rev> measures that commit instead of HEAD (to finish an older commit's shards).
rev=${MUTANTS_COMMIT:-HEAD}
commit() { git -C "$root" log -1 --abbrev=7 --format=%h "$rev" -- . ':!conformance/mutants' ':!*.md'; }

prepare_copy() {
    local c
    c=$(commit)
    if [ "$rev" = HEAD ] && [ -n "$(git -C "$root" status --porcelain -- impl conformance Cargo.toml Cargo.lock ':!conformance/mutants' ':!*.md')" ] \
        && [ -z "${MUTANTS_ALLOW_DIRTY:-}" ]; then
        echo "run.sh: uncommitted changes under impl/ or conformance/; the figures would not be" >&2
        echo "        those of $c. Commit first (or MUTANTS_ALLOW_DIRTY=1 to measure HEAD anyway)." >&2
        exit 1
    fi
    mkdir -p "$copy"
    if [ "$(cat "$copy/.mutants-commit" 2>/dev/null)" != "$c" ]; then
        # fresh sources, keeping target/ (incremental builds). `tar -m`: the files get the time
        # of extraction, not of the commit, or cargo would keep artifacts built from a newer
        # mtime (a previous run's last mutant) as up to date
        find "$copy" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
        git -C "$root" archive "$rev" | tar -x -m -C "$copy"
        echo "$c" >"$copy/.mutants-commit"
    fi
    # see "Speed" above; written each time, so MUTANTS_FAST=0 and back needs no fresh copy
    if [ "${MUTANTS_FAST:-1}" != 0 ] && [ "${MUTANTS_FAST:-1}" != env ]; then
        mkdir -p "$copy/.cargo"
        {
            echo "# written by conformance/mutants/run.sh: no debug info for the mutated crates"
            for profile in dev test; do
                for p in tessera tessera-protocol tessera-consumer tessera-conformance; do
                    printf '[profile.%s.package.%s]\ndebug = 0\n' "$profile" "$p"
                    if [ "$p" = tessera-conformance ]; then printf 'strip = "debuginfo"\n'; fi
                done
            done
        } >"$copy/.cargo/config.toml"
    else
        rm -f "$copy/.cargo/config.toml"
    fi
}

mutants() {
    # -v -V: every outcome on the console with its times, which record() keeps
    nice -n 19 cargo mutants -v -V --dir "$copy" --in-place --baseline skip \
        --timeout "$timeout" --build-timeout 900 "${files[@]}" "${exclude[@]}" "$@" "${test_args[@]}"
}

# one line per mutant: "<outcome>\t<mutant>\t<times>", from mutants.out/{caught,missed,
# unviable,timeout}.txt, with the build and test times of the console line (out/console.txt)
record() {
    local out=$1
    for o in caught missed unviable timeout; do
        [ -f "$out/mutants.out/$o.txt" ] || continue
        awk -v o="$o" -v console="$out/console.txt" '
            BEGIN { while ((getline l < console) > 0)
                if (match(l, / in [0-9.]+m?s build( \+ [0-9.]+m?s test)?$/)) {
                    name = substr(l, 1, RSTART - 1); sub(/^[A-Za-z]+ +/, "", name)
                    t[name] = substr(l, RSTART + 4) } }
            { print o "\t" $0 (($0 in t) ? "\t" t[$0] : "") }' "$out/mutants.out/$o.txt"
    done
}

# Each mutant's last recorded outcome in the files named: "<outcome>\t<mutant>" (a rerun
# overrides its shard's timeout).
last_outcomes() {
    cat "$@" | grep -v '^#' | awk -F'\t' '{ if (!($2 in o)) n[++k] = $2; o[$2] = $1 }
        END { for (i = 1; i <= k; i++) print o[n[i]] "\t" n[i] }'
}

# The per-file table of last_outcomes' lines (stdin), its file column $1 wide, TOTAL last.
# score = caught / (caught + missed + timeout), unviable mutants left out.
table() {
    local width=$1 last row
    last=$(cat)
    row='{ split($2, p, ":"); f = p[1]; t[f, $1]++; fs[f] = 1; t["TOTAL", $1]++ }
        END { fs["TOTAL"] = 1; for (f in fs) {
            v = t[f, "caught"] + t[f, "missed"] + t[f, "timeout"]
            printf "%-" w "s %7d %7d %9d %8d %7s\n", f, t[f, "caught"], t[f, "missed"],
                t[f, "unviable"], t[f, "timeout"], v ? sprintf("%.1f%%", 100 * t[f, "caught"] / v) : "-" } }'
    printf "%-${width}s %7s %7s %9s %8s %7s\n" file caught missed unviable timeout score
    echo "$last" | awk -F'\t' -v w="$width" "$row" | sort | grep -v '^TOTAL '
    echo "$last" | awk -F'\t' -v w="$width" "$row" | grep '^TOTAL '
}

# The survivors among last_outcomes' lines (stdin), each with its class from the classes file
# $1 (<record>.classes.txt: A, not reached by the profile by design; B, equivalent; C, a gap;
# "?", not classified yet, or no such file), then the score three ways: all viable mutants,
# leaving out A, leaving out A and B. Both summaries print it.
survivors() {
    awk -F'\t' -v cls="$1" '
        BEGIN { while ((getline l < cls) > 0) if (l !~ /^#/) { split(l, p, "\t"); k[p[2]] = p[1] } }
        $1 == "caught" { c++ }
        $1 == "caught" || $1 == "missed" || $1 == "timeout" { v++ }
        $1 == "missed" || $1 == "timeout" { x = ($2 in k) ? k[$2] : "?"; n[x]++; s[++m] = x "  " $1 "\t" $2 }
        function pct(a, b) { return b ? sprintf("%.1f%%", 100 * a / b) : "-" }
        END {
            print "survivors (class, outcome, mutant):"
            for (i = 1; i <= m; i++) print "  " s[i]
            if (!m) print "  none"
            printf "survivors by class: A %d, B %d, C %d, unclassified %d\n", n["A"], n["B"], n["C"], n["?"]
            printf "score, all viable:          %d / %d = %s\n", c, v, pct(c, v)
            printf "score, leaving out A:       %d / %d = %s\n", c, v - n["A"], pct(c, v - n["A"])
            printf "score, leaving out A and B: %d / %d = %s\n", c, v - n["A"] - n["B"], pct(c, v - n["A"] - n["B"])
        }'
}

summary_authority() {
    commits=$(ls "$here" | sed -n 's/^\([0-9a-f]\{7\}\)\.\(shard\|rerun\).*/\1/p' | sort -u)
    [ -n "$commits" ] || { echo "nothing recorded yet"; exit 0; }
    for c in $commits; do
        shards=$(ls "$here" | grep -c "^$c\.shard-" || true)
        of=$(ls "$here" | sed -n "s/^$c\.shard-[0-9]*-of-0*\([0-9]*\)\.txt$/\1/p" | sort -u | paste -sd, -)
        echo "== commit $c: $shards shard(s) recorded, of ${of:-(none)}"
        grep -l '^# INCOMPLETE' "$here"/"$c".shard-*.txt 2>/dev/null | sed 's|.*/|   incomplete: |' || true
        # shellcheck disable=SC2046 # the file names have no spaces
        last=$(last_outcomes $(ls "$here"/"$c".shard-*.txt 2>/dev/null) $(ls "$here"/"$c".rerun.txt 2>/dev/null))
        echo "$last" | table 30
        echo "$last" | survivors "$here/$c.classes.txt"
    done
}

summary_consumer() {
    # the consumer records also have a hand-run sample (consumer-0716c93.sample.txt)
    commits=$(ls "$here" | sed -n 's/^consumer-\([0-9a-f]\{7\}\)\.\(shard\|rerun\|sample\).*/\1/p' | sort -u)
    [ -n "$commits" ] || { echo "nothing recorded yet"; exit 0; }
    for c in $commits; do
        # the shards and the sample, not the re-runs (read last) nor the classes file
        files_c=$(ls "$here"/consumer-"$c".*.txt | grep -v -e '\.rerun\.txt$' -e '\.classes\.txt$' || true)
        echo "== tessera-consumer, commit $c: $(echo "$files_c" | sed 's|.*/||' | paste -sd' ' -)"
        # shellcheck disable=SC2086 # the file names have no spaces; none (a re-run only): grep
        # would read stdin
        [ -z "$files_c" ] || grep -l '^# INCOMPLETE' $files_c 2>/dev/null | sed 's|.*/|   incomplete: |' || true
        # shellcheck disable=SC2046,SC2086
        last=$(last_outcomes $files_c $(ls "$here"/consumer-"$c".rerun.txt 2>/dev/null))
        echo "$last" | table 34
        echo "$last" | survivors "$here/consumer-$c.classes.txt"
    done
}

# The whole command is one function, read before any of it runs: editing this file (a commit, a
# merge) while a shard runs cannot change what the running script does next.
main() {
    case "${1:-}" in
    shard)
        k=${2:?shard K N}
        n=${3:?shard K N}
        prepare_copy
        c=$(commit)
        dest=$(printf '%s/%s%s.shard-%02d-of-%02d.txt' "$here" "$record_prefix" "$c" "$k" "$n")
        out=$(mktemp -d)
        start=$(date -u +%FT%TZ)
        # stopping cargo-mutants (kill its pid, not this script's) still records what it finished
        mutants --shard "$k/$n" --sharding round-robin -o "$out" | tee "$out/console.txt" || true
        found=$(sed -n 's/^Found \([0-9]*\) mutants\{0,1\} to test.*/\1/p' "$out/console.txt")
        done_=$(record "$out" | wc -l)
        {
            echo "# ${title}commit $c, shard $k/$n round-robin, cargo-mutants $(cargo mutants --version | cut -d' ' -f2), $start .. $(date -u +%FT%TZ)"
            [ "$done_" = "$found" ] || echo "# INCOMPLETE: $done_ of ${found:-?} mutants of this shard tested; run it again to finish"
            record "$out"
        } >"$dest"
        rm -rf "$out"
        echo "recorded $(grep -vc '^#' "$dest") mutants in $dest"
        ;;
    rerun)
        re=${2:?rerun REGEX}
        prepare_copy
        c=$(commit)
        out=$(mktemp -d)
        # cargo-mutants 27.1 does not apply -F to struct-field deletions: leave them out unless
        # the regex asks for them
        skip=()
        case "$re" in *field*) ;; *) skip=(-E 'delete field .* from struct') ;; esac
        mutants -F "$re" "${skip[@]}" -o "$out" | tee "$out/console.txt" || true
        {
            echo "# ${title}commit $c, rerun -F '$re', $(date -u +%FT%TZ)"
            record "$out"
        } >>"$here/$record_prefix$c.rerun.txt"
        rm -rf "$out"
        tail -20 "$here/$record_prefix$c.rerun.txt"
        ;;
    prepare)
        # the copy, and a build of the test in it (the first build takes a while)
        prepare_copy
        (cd "$copy" && nice -n 19 cargo test -p tessera-conformance --test "$test_binary" --no-run)
        ;;
    list)
        (cd "$root" && cargo mutants --list "${files[@]}" "${exclude[@]}")
        ;;
    summary)
        "summary_$target"
        ;;
    *)
        sed -n '2,/^set /{/^set /!p}' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
    esac
}

main "$@"
exit
