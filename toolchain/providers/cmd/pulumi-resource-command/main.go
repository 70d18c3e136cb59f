// pulumi-resource-command is mailstack's stand-in for the pulumi-command provider plugin (v1.2.1), which cannot be
// downloaded where mailstack is built. The engine starts it like any provider plugin.
package main

import "mailstack/toolchain/providers/command"

func main() { command.Main() }
