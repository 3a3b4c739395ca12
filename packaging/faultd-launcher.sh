#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /usr/bin/faultd of the .deb and .rpm: faultd on the Node runtime the package ships
# (/usr/lib/faultd/node), so the host's Node, if any, does not matter.
exec /usr/lib/faultd/node /usr/lib/faultd/app/bin/faultd.js "$@"
