#!/bin/sh
# Installs the schema packages of tests/deploy/k8s_schema/package.json into DEST (a folder in the build tree),
# once: a later run that finds DEST/package.json equal to the source and the packages present does nothing.
# Needs the npm registry the first time only.
set -eu
src="$1"
dest="$2"
if [ -d "$dest/node_modules/kubernetes-models" ] && cmp -s "$src/package.json" "$dest/package.json"; then
  echo "npm packages already installed in $dest"
  exit 0
fi
mkdir -p "$dest"
rm -rf "$dest/node_modules"
cp "$src/package.json" "$dest/package.json"
cd "$dest"
if ! "${NPM:-npm}" install --no-audit --no-fund --no-package-lock --loglevel=error; then
  rm -f package.json   # so that the next run tries again
  echo "npm install failed in $dest" >&2
  exit 1
fi
echo "installed in $dest: $(ls node_modules | tr '\n' ' ')"
