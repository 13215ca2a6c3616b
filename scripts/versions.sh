# Versions of what the set-up installs, in one place; caches are keyed by them.
NODE_VERSION=24.21.0
PULUMI_VERSION=3.276.0          # @pulumi/pulumi on npm; the CLI is built at the nearest pkg/v3 tag
PULUMI_COMMAND_VERSION=1.2.1    # @pulumi/command on npm; its plugin is built from Go modules
CACHE_DIR=${VHOSTNET_CACHE:-$HOME/.cache/vhostnet}
NODE_DIR=$CACHE_DIR/node-$NODE_VERSION
PULUMI_DIR=$CACHE_DIR/pulumi-$PULUMI_VERSION
