// pulumi-resource-random is mailstack's stand-in for the pulumi-random provider plugin (v4.21.2), which cannot be
// downloaded where mailstack is built. The engine starts it like any provider plugin.
package main

import "mailstack/toolchain/providers/random"

func main() { random.Main() }
