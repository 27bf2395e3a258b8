#!/usr/bin/env bash
# Builds the Debian package of cybexp-archive from a binary already built:
#
#   scripts/package.sh [OUT_DIR]          # writes OUT_DIR/cybexp-archive_<version>-1_<arch>.deb
#   BIN=target/debug/cybexp-archive scripts/package.sh /tmp/deb
#
# BIN is the binary to package (default target/release/cybexp-archive; CI and
# the test pass the debug one); it is stripped on the way in. OUT_DIR defaults
# to target/debian. Prints the .deb's path on stdout.
#
# Why dpkg-deb and not cargo-deb: dpkg-deb is Debian's own tool and ships
# with dpkg on every Debian machine (CI's too), where cargo-deb would have to
# be built from source in CI first. What cargo-deb would write is spelled out
# here instead: the staging tree, DEBIAN/control, conffiles and md5sums.
# dpkg-shlibdeps (dpkg-dev) computes Depends from the binary's libraries.
#
# What goes where (tests/tests/package.rs checks every path):
#   /usr/bin/cybexp-archive                          the binary, stripped
#   /lib/systemd/system/cybexp-archive.service       dist/'s unit, binary path /usr/bin
#   /etc/cybexp-archive/archiver.toml                dist/'s config, a conffile
#   /usr/share/man/man1/cybexp-archive.1.gz          `cybexp-archive generate man`
#   /usr/share/bash-completion/completions/cybexp-archive, zsh and fish: `generate completions`
#   /usr/share/doc/cybexp-archive/                   README.md, SECURITY.md, docs/ (the unit's
#                                                    Documentation= points here), copyright,
#                                                    changelog.Debian.gz
#   /usr/share/lintian/overrides/cybexp-archive      lintian tags we accept, each with its reason
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${BIN:-target/release/cybexp-archive}
out=${1:-target/debian}
[ -x "$bin" ] || { echo "package.sh: no binary at $bin (build it, or set BIN=)" >&2; exit 1; }
command -v dpkg-shlibdeps >/dev/null || { echo "package.sh: dpkg-shlibdeps missing (apt-get install dpkg-dev)" >&2; exit 1; }

name=cybexp-archive
# The workspace's version; -1: the first (and only) Debian revision of it.
upstream=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
version="$upstream-1"
arch=$(dpkg --print-architecture)
maintainer=${MAINTAINER:-"cybexp-archive maintainers <maintainers@cybexp-archive.invalid>"}
# Reproducible: dates from the last commit, unless the caller sets one.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/$name
doc=$stage/usr/share/doc/$name
umask 022

install -D -m 0755 "$bin" "$stage/usr/bin/$name"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/$name"
packaged=$stage/usr/bin/$name

# The unit as dist/ has it, with the binary where the package puts it.
install -d "$stage/lib/systemd/system"
sed "s#/usr/local/bin/$name#/usr/bin/$name#g" dist/$name.service >"$stage/lib/systemd/system/$name.service"
chmod 0644 "$stage/lib/systemd/system/$name.service"
install -D -m 0644 dist/archiver.toml "$stage/etc/$name/archiver.toml"

# The man page and completions, from the binary's own command line.
install -d "$stage/usr/share/man/man1"
"$packaged" generate man | gzip -9n >"$stage/usr/share/man/man1/$name.1.gz"
install -d "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" \
    "$stage/usr/share/fish/vendor_completions.d"
"$packaged" generate completions bash >"$stage/usr/share/bash-completion/completions/$name"
"$packaged" generate completions zsh >"$stage/usr/share/zsh/vendor-completions/_$name"
"$packaged" generate completions fish >"$stage/usr/share/fish/vendor_completions.d/$name.fish"

# The docs the unit's Documentation= points at, and the ones they link to.
install -D -m 0644 README.md "$doc/README.md"
install -D -m 0644 SECURITY.md "$doc/SECURITY.md"
(cd docs && find . -type f -name '*.md' -print0) | while IFS= read -r -d '' f; do
    install -D -m 0644 "docs/$f" "$doc/docs/$f"
done
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: $name
Comment: Built from the cybexp-archive repository by scripts/package.sh.

Files: *
Copyright: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y) cybexp-archive contributors
License: MIT or Apache-2.0

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all
 copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 SOFTWARE.

License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 can be
 found in /usr/share/common-licenses/Apache-2.0.
EOF
chmod 0644 "$doc/copyright"
changelog_date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
cat <<EOF | gzip -9n >"$doc/changelog.Debian.gz"
$name ($version) unstable; urgency=medium

  * Built by scripts/package.sh; the changes are in CHANGELOG.md.

 -- $maintainer  $changelog_date
EOF
install -D -m 0644 dist/lintian-overrides "$stage/usr/share/lintian/overrides/$name"

# Depends: the libraries the binary links, as Debian's packages provide them.
mkdir -p "$work/src/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$name" "$name" >"$work/src/debian/control"
depends=$(cd "$work/src" && dpkg-shlibdeps -O -e"$packaged" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "package.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

install -d "$stage/DEBIAN"
installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
# The crate's description, folded to the 80 columns lintian asks for.
description=$(sed -n 's/^description *= *"\(.*\)"/\1./p' host/Cargo.toml | fold -s -w 76 | sed 's/ *$//; s/^/ /')
cat >"$stage/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $depends
Section: net
Priority: optional
Description: CYBEX-P archiver daemon
$description
 .
 Each feed family's parser runs as a WebAssembly component under wasmtime,
 with fuel, a deadline and a memory cap. Archives to MongoDB (the
 collections of a CYBEX-P deployment) or an embedded SQLite store. Runs
 under systemd (Type=notify, watchdog, reload); a live dashboard (top) and
 Prometheus metrics.
EOF
echo "/etc/$name/archiver.toml" >"$stage/DEBIAN/conffiles"
# md5sums: every file but the conffile (dpkg records conffiles' sums itself).
(cd "$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
    LC_ALL=C sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/"*

mkdir -p "$out"
deb="$out/${name}_${version}_${arch}.deb"
# --root-owner-group: every file root:root, without fakeroot.
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"
