#!/usr/bin/env bash
# Size of the public API of each library crate (issue 19): the number of item pages rustdoc
# writes (structs, enums, functions, traits, constants, type aliases, macros — one page per
# item, wherever it is re-exported from) and the number of public modules (one index.html
# each, the crate root included). Hidden items (`#[doc(hidden)]`, e.g. `testing`) are not
# counted; trait impls and fields are not items of their own, nor are rustdoc's redirect pages.
# Then every name that more than one public item has.
#
# Usage: scripts/public-items.sh [CRATE...]   (default: every library crate of the workspace)
# Documents with all features (`netlink` included); removes the crate's old doc output
# first, since rustdoc never deletes the page of an item that stopped being public.
set -euo pipefail
cd "$(dirname "$0")/.."

crates=("$@")
[ ${#crates[@]} -gt 0 ] || crates=(vxlan-mesh-core vxlan-mesh-gen vxlan-mesh-lab)
doc=${CARGO_TARGET_DIR:-target}/doc

for c in "${crates[@]}"; do
    dir=$doc/${c//-/_}
    rm -rf "$dir"
    cargo doc -q -p "$c" --all-features --no-deps
    # Redirect pages (an item inlined from a private module leaves one at its old path) are
    # not items.
    items=$(find "$dir" -name '*.html' ! -name 'index.html' ! -name 'sidebar-items*' \
        -exec grep -L 'http-equiv="refresh"' {} + | wc -l)
    modules=$(find "$dir" -name 'index.html' | wc -l)
    printf '%s\t%s items\t%s modules\n' "$c" "$items" "$modules"
    # Names given to more than one public item (`Report` in two modules): one name, one
    # meaning.
    find "$dir" -name '*.html' ! -name 'index.html' ! -name 'sidebar-items*' \
        -exec grep -L 'http-equiv="refresh"' {} + | sed "s|^$dir/||" |
        awk -F/ '{ n = $NF; sub(/^[a-z]+\./, "", n); sub(/\.html$/, "", n); paths[n] = paths[n] " " $0; count[n]++ }
             END { for (n in count) if (count[n] > 1) printf "\tsame name: %s:%s\n", n, paths[n] }' | sort
done
