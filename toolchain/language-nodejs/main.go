// Command pulumi-language-nodejs is a small stand-in for Pulumi's Node.js
// language host. It exists because the official host module cannot be fetched
// on our build machines; it implements only what `pulumi preview/up/destroy`
// need to run a TypeScript program through @pulumi/pulumi's own run script.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
)

// version is what GetPluginInfo reports. It matches the CLI we build so the
// engine treats this host as the bundled one; override with
// -ldflags "-X main.version=..." if the CLI version changes.
var version = "3.274.1"

// options is what we understand from the engine's command line.
type options struct {
	engineAddr  string // positional: the engine's gRPC address
	tracing     string // Zipkin endpoint, forwarded to the run script
	logToStderr bool
	verbose     int
}

// valueFlags are flags known to take a value. They must be listed so that the
// space-separated form the engine uses ("--tracing URL") does not leave URL
// behind as a positional argument. Flags the real host accepted (root,
// typescript, tsconfig, nodeargs, ...) are accepted here and ignored, because
// everything they configured now arrives in RunRequest.Info.
var valueFlags = map[string]bool{
	"tracing": true, "root": true, "v": true, "binary": true, "typescript": true,
	"tsconfig": true, "nodeargs": true, "packagemanager": true,
}

// parseArgs is hand-rolled instead of using package flag because an engine
// newer than this host may pass flags we have never heard of, and failing on
// them would make the whole CLI unusable. Unknown "-x=y" and "-x" flags are
// skipped; the engine address is the last positional argument (the engine
// always appends it last).
func parseArgs(args []string) (options, error) {
	var o options
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasValue && valueFlags[name] {
			if i+1 >= len(args) {
				return o, fmt.Errorf("flag -%s needs a value", name)
			}
			i++
			value = args[i]
		}
		switch name {
		case "tracing":
			o.tracing = value
		case "logtostderr":
			o.logToStderr = !hasValue || value == "true"
		case "v":
			n, err := strconv.Atoi(value)
			if err != nil {
				return o, fmt.Errorf("bad -v value %q", value)
			}
			o.verbose = n
		}
	}
	if len(positional) > 0 {
		o.engineAddr = positional[len(positional)-1]
	}
	return o, nil
}

func main() {
	opts, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(2)
	}
	h := newHost(opts)

	// Same contract as the SDK's rpcutil.ServeWithOptions (loopback, kernel
	// picked port, health service), done by hand because rpcutil drags in the
	// SDK's logging/OpenTelemetry/terminal stack and doubles the cold build.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not listen: %v\n", err)
		os.Exit(1)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(maxMessageSize))
	pulumirpc.RegisterLanguageRuntimeServer(srv, h)
	healthgrpc.RegisterHealthServer(srv, health.NewServer())

	// The engine reads exactly one line from our stdout: the port. Everything
	// after it (including the Node program's own output) is shown to the user.
	fmt.Printf("%d\n", lis.Addr().(*net.TCPAddr).Port)

	// The engine ends us by killing our process group, so there is no
	// graceful shutdown path to implement.
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: server stopped: %v\n", err)
		os.Exit(1)
	}
}

// maxMessageSize matches the limit the engine uses for its own plugin
// connections, so large requests are never rejected by us first.
const maxMessageSize = 400 * 1024 * 1024

// debugf writes diagnostics only when the engine asked plugins to log to
// stderr (`pulumi -v=N --logflow --logtostderr`); otherwise stderr is shown to
// the user as program output and must stay quiet.
func (h *host) debugf(level int, format string, args ...any) {
	if h.opts.logToStderr && h.opts.verbose >= level {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: "+format+"\n", args...)
	}
}
