// pulumi-resource-hcloud is mailstack's stand-in for the pulumi-hcloud provider plugin (v1.41.0), which cannot be
// downloaded where mailstack is built. The engine starts it like any provider plugin.
package main

import "mailstack/toolchain/providers/hcloud"

func main() { hcloud.Main() }
