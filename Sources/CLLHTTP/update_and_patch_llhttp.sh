#!/bin/bash
# Regenerates this directory: llhttp as SwiftNIO vendors it (Sources/CNIOLLHTTP, symbols prefixed c_nio_),
# with our prefix hermes_ instead, so that it links beside NIO's own copy. Modeled on NIO's
# Sources/CNIOLLHTTP/update_and_patch_llhttp.sh.
#
# Usage:
#   update_and_patch_llhttp.sh [--check] [--nio-repository URL|PATH]
#   update_and_patch_llhttp.sh [--check] --source llhttp (--llhttp-tarball FILE|URL | --llhttp-repository URL|PATH)
#
#   --source nio        (default) take NIO's files at NIO_TAG from a swift-nio git repository, by default
#                       https://github.com/apple/swift-nio.git (a local clone, bare or not, works too).
#   --source llhttp     take upstream llhttp's generated release for LLHTTP_VERSION (what its tag
#                       release/vX.Y.Z holds, and the GitHub tarball of that tag), and apply NIO's changes
#                       here: the same bytes, without relying on NIO.
#   --check             regenerate into a scratch directory and compare with the files here; exit 1 when
#                       they differ. Nothing here is written.
#
# What we carry on top of NIO's files:
#   - every c_nio_llhttp... symbol is hermes_llhttp..., and so are the names NIO leaves bare (llhttp_t,
#     llhttp_settings_t, enum llhttp_errno, ...), so no C name of ours is also one of NIO's;
#   - include/c_nio_llhttp.h is include/hermes_llhttp.h, and the .c files include it under that name;
#   - the .c files start with our two-line note instead of NIO's; the header keeps NIO's note as it is.
# include/CLLHTTP.h (the shim the Swift side calls) is ours and is not touched. NIO's CNIOLLHTTP.h is not
# taken.
#
# To bump the version:
#   1. Set NIO_TAG to the SwiftNIO release to take llhttp from and LLHTTP_VERSION to the llhttp version
#      that release carries (see LLHTTP_VERSION_* in its Sources/CNIOLLHTTP/include/c_nio_llhttp.h); the
#      script stops when the two disagree.
#   2. Run the script. It stops if NIO changed the layout of its files (the note it puts at the top) or if
#      a compiled file exports a symbol without our prefix; adapt the steps below, then run it again.
#   3. Read `git diff Sources/CLLHTTP`: adjust include/CLLHTTP.h by hand if llhttp_execute changed, and
#      look for new settings or callbacks the HTTP/1.1 parser should set.
#   4. `swift test --filter HTTP2Tests`, then commit with both versions in the message.
#   Without a newer NIO, upstream alone works: bump LLHTTP_VERSION and run with --source llhttp. If NIO
#   later changes the patches its script applies to the header, change the two in the llhttp case below
#   to match.
#
# Needs git, sed (GNU), patch, tar, a C compiler (cc, or CC) and nm; curl only for a tarball URL.

set -euo pipefail

NIO_TAG=2.101.3
LLHTTP_VERSION=9.3.0
PREFIX=hermes_

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

source=nio
nio_repository=https://github.com/apple/swift-nio.git
llhttp_tarball=""
llhttp_repository=""
check=false

usage() {
    sed -n '/^# Usage:/,/^# What we carry/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --source) source="${2:?--source needs nio or llhttp}"; shift 2 ;;
        --nio-repository) nio_repository="${2:?--nio-repository needs a URL or path}"; shift 2 ;;
        --llhttp-tarball) llhttp_tarball="${2:?--llhttp-tarball needs a file or URL}"; shift 2 ;;
        --llhttp-repository) llhttp_repository="${2:?--llhttp-repository needs a URL or path}"; shift 2 ;;
        --check) check=true; shift ;;
        -h|--help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done

case "$(uname -s)" in
    Darwin) sed=gsed ;;
    *) sed=sed ;;
esac
if ! hash "$sed" 2>/dev/null; then
    echo "GNU sed ($sed) is needed (on macOS: brew install gnu-sed)" >&2
    exit 42
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/hermes-llhttp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
input="$tmp/input"    # LICENSE, llhttp.h, api.c, http.c, llhttp.c as the source has them
output="$tmp/output"  # what this directory should hold
mkdir -p "$input" "$output/include"

c_files=(api http llhttp)

# The first lines NIO's script writes into every file it vendors.
nio_note() {
    echo "/* Additional changes for SwiftNIO:"
    echo "    - prefixed all symbols by 'c_nio_'"
    echo "*/"
}

# Our note at the top of each .c file.
our_note() {
    echo "/* llhttp $LLHTTP_VERSION (MIT, see LICENSE), as SwiftNIO vendors it in Sources/CNIOLLHTTP, with its c_nio_ symbol"
    echo "   prefix renamed ${PREFIX} so that it links beside NIO's copy. */"
}

# Our prefix on every llhttp name: NIO's prefixed ones and the ones it leaves bare alike.
rename() {
    "$sed" \
        -e "s#\"include/c_nio_llhttp.h\"#\"include/${PREFIX}llhttp.h\"#g" \
        -e "s#\"llhttp.h\"#\"include/${PREFIX}llhttp.h\"#g" \
        -e "s/\bc_nio_llhttp/${PREFIX}llhttp/g" \
        -e "s/\bllhttp_/${PREFIX}llhttp_/g"
}

# Copies a git repository's files at a tag into $input: a local path is read in place, a URL is cloned
# (bare, that tag only).
read_from_git() {  # repository tag destination-name:path-in-repository...
    local repository="$1" tag="$2"
    shift 2
    local git_dir="$repository"
    if [ ! -d "$repository" ]; then
        git_dir="$tmp/repository.git"
        git clone --quiet --bare --depth 1 --branch "$tag" "$repository" "$git_dir"
    fi
    local pair
    for pair in "$@"; do
        git -C "$git_dir" show "$tag:${pair#*:}" > "$input/${pair%%:*}"
    done
}

case "$source" in
nio)
    read_from_git "$nio_repository" "$NIO_TAG" \
        LICENSE:Sources/CNIOLLHTTP/LICENSE \
        llhttp.h:Sources/CNIOLLHTTP/include/c_nio_llhttp.h \
        api.c:Sources/CNIOLLHTTP/c_nio_api.c \
        http.c:Sources/CNIOLLHTTP/c_nio_http.c \
        llhttp.c:Sources/CNIOLLHTTP/c_nio_llhttp.c
    for f in llhttp.h "${c_files[@]/%/.c}"; do
        if ! cmp -s <(head -n 3 "$input/$f") <(nio_note); then
            echo "NIO $NIO_TAG: $f does not start with the note this script expects; check NIO's update script" >&2
            exit 1
        fi
    done
    rename < "$input/llhttp.h" > "$output/include/${PREFIX}llhttp.h"
    for f in "${c_files[@]}"; do
        { our_note; tail -n +4 "$input/$f.c" | rename; } > "$output/$f.c"
    done
    ;;

llhttp)
    tag="release/v$LLHTTP_VERSION"
    if [ -n "$llhttp_tarball" ]; then
        archive="$llhttp_tarball"
        if [ ! -f "$archive" ]; then
            archive="$tmp/llhttp.tar.gz"
            curl --fail --silent --show-error --location --output "$archive" "$llhttp_tarball"
        fi
        mkdir "$tmp/release"
        tar -xzf "$archive" -C "$tmp/release" --strip-components=1
        cp "$tmp/release/LICENSE" "$input/LICENSE"
        cp "$tmp/release/include/llhttp.h" "$input/llhttp.h"
        for f in "${c_files[@]}"; do cp "$tmp/release/src/$f.c" "$input/$f.c"; done
    elif [ -n "$llhttp_repository" ]; then
        read_from_git "$llhttp_repository" "$tag" \
            LICENSE:LICENSE llhttp.h:include/llhttp.h api.c:src/api.c http.c:src/http.c llhttp.c:src/llhttp.c
    else
        echo "--source llhttp needs --llhttp-tarball (for example" \
            "https://github.com/nodejs/llhttp/archive/refs/tags/$tag.tar.gz) or --llhttp-repository" >&2
        exit 2
    fi
    # NIO's header: its note, then two moves of an #include out of the extern "C" blocks (NIO's patches,
    # here on llhttp's own names, before the rename).
    { nio_note; cat "$input/llhttp.h"; } > "$tmp/header.h"
    patch --quiet --no-backup-if-mismatch "$tmp/header.h" << 'EOF'
@@ -11,11 +11,16 @@
 
 #ifndef INCLUDE_LLHTTP_ITSELF_H_
 #define INCLUDE_LLHTTP_ITSELF_H_
+#ifdef __cplusplus
+#include <cstdint>
+#else
+#include <stdint.h>
+#endif
+
 #ifdef __cplusplus
 extern "C" {
 #endif
 
-#include <stdint.h>
 
 typedef struct llhttp__internal_s llhttp__internal_t;
 struct llhttp__internal_s {
EOF
    patch --quiet --no-backup-if-mismatch "$tmp/header.h" << 'EOF'
@@ -553,10 +553,10 @@ typedef enum llhttp_status llhttp_status_t;
 
 #ifndef INCLUDE_LLHTTP_API_H_
 #define INCLUDE_LLHTTP_API_H_
+#include <stddef.h>
 #ifdef __cplusplus
 extern "C" {
 #endif
-#include <stddef.h>
 
 #if defined(__wasm__)
 #define LLHTTP_EXPORT __attribute__((visibility("default")))
EOF
    rename < "$tmp/header.h" > "$output/include/${PREFIX}llhttp.h"
    for f in "${c_files[@]}"; do
        { our_note; rename < "$input/$f.c"; } > "$output/$f.c"
    done
    ;;

*)
    echo "unknown source $source (nio or llhttp)" >&2
    exit 2
    ;;
esac

cp "$input/LICENSE" "$output/LICENSE"

# The version pinned above must be the one the source carries.
found="$(for part in MAJOR MINOR PATCH; do
    "$sed" -n "s/^#define LLHTTP_VERSION_$part \([0-9]*\)$/\1/p" "$output/include/${PREFIX}llhttp.h"
done | paste -sd . -)"
if [ "$found" != "$LLHTTP_VERSION" ]; then
    echo "the source carries llhttp $found, not LLHTTP_VERSION=$LLHTTP_VERSION: update the pin" >&2
    exit 1
fi

# Every symbol the objects export carries our prefix (NIO's script checks the same for its own).
objects="$tmp/objects"
mkdir "$objects"
for f in "${c_files[@]}"; do
    "${CC:-cc}" -c -o "$objects/$f.o" "$output/$f.c"
    unprefixed="$(nm "$objects/$f.o" | awk '$2 == "T" && $3 !~ /^'"$PREFIX"'/ { print $3 }')"
    if [ -n "$unprefixed" ]; then
        echo "$f.c exports symbols without the ${PREFIX} prefix:" $unprefixed >&2
        exit 1
    fi
done

generated=(LICENSE include/"${PREFIX}"llhttp.h "${c_files[@]/%/.c}")

if $check; then
    status=0
    for f in "${generated[@]}"; do
        if ! cmp -s "$output/$f" "$here/$f"; then
            echo "differs from the $source source: $f" >&2
            status=1
        fi
    done
    for f in "$here"/*.c; do
        [ -e "$f" ] || continue
        [ -e "$output/$(basename "$f")" ] || { echo "not in the $source source: $(basename "$f")" >&2; status=1; }
    done
    [ $status -eq 0 ] && echo "Sources/CLLHTTP matches llhttp $LLHTTP_VERSION from the $source source"
    exit $status
fi

rm -f "$here"/*.c
for f in "${generated[@]}"; do
    cp "$output/$f" "$here/$f"
done
case "$source" in
    nio) echo "Sources/CLLHTTP: llhttp $LLHTTP_VERSION from SwiftNIO $NIO_TAG, prefix ${PREFIX}" ;;
    llhttp) echo "Sources/CLLHTTP: llhttp $LLHTTP_VERSION from its release, with NIO's changes, prefix ${PREFIX}" ;;
esac
