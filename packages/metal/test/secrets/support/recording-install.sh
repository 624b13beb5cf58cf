#!/bin/sh
# A stand-in for nixos-anywhere in the leak test, run by `metal install` through its command
# template: recording-install.sh DIR HOST EXTRA_FILES. It notes where the --extra-files tree was
# (the test checks it is gone after the run), the mode of the host key inside it while it exists,
# and the first-boot token, which the test then posts as the installed system would and looks
# for in every HTTP response.
set -eu
dir=$1 host=$2 extra=$3
echo "$extra" > "$dir/extra-files-$host"
stat -c %a "$extra/etc/ssh/ssh_host_ed25519_key" > "$dir/key-mode-$host"
sed -n 's/^METAL_TOKEN=//p' "$extra/var/lib/metal/callback.env" > "$dir/first-boot-token-$host"
echo "installed $host"
