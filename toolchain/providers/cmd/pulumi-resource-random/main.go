// pulumi-resource-random is mailstack's stand-in for the pulumi-random provider plugin (v4.21.2), which cannot be
// downloaded where mailstack is built. The engine starts it like any provider plugin.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"mailstack/toolchain/providers/random"
)

func main() {
	err := provider.Main("random", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return random.New(host), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
