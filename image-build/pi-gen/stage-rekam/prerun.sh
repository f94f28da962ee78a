#!/bin/bash -e
# Start from the previous stage's tree (pi-gen's stage2: Raspberry Pi OS Lite).
if [ ! -d "${ROOTFS_DIR}" ]; then
    copy_previous
fi
