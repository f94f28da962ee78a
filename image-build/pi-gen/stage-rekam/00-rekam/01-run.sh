#!/bin/bash -e
# Runs on the build host with ROOTFS_DIR set by pi-gen; everything is install-rekam's.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)
"$repo/image-build/install-rekam" \
    --wheelhouse "$repo/image-build/out/wheelhouse" \
    --ssh-keys "${REKAM_SSH_KEYS:?set REKAM_SSH_KEYS to the technicians public keys}" \
    --mqtt-port "${REKAM_MQTT_PORT:-8883}" \
    "${ROOTFS_DIR}"
