// pulumi-resource-hcloud is mailstack's stand-in for the pulumi-hcloud provider plugin (v1.41.0), which cannot be
// downloaded where mailstack is built. The engine starts it like any provider plugin.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"mailstack/toolchain/providers/hcloud"
)

func main() {
	err := provider.Main("hcloud", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return hcloud.New(host), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
