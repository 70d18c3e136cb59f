// Package base holds the gRPC plumbing both of our providers share: the provider-level calls (no provider
// configuration exists), property (un)marshalling that keeps secrets and unknowns, input diffing, logging back
// to the engine, and cancellation.
package base

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// marshalOpts keeps secret and unknown markers in both directions: we tell the engine we accept secrets, so it
// sends them wrapped, and we must hand the wrappers back or secret inputs would be stored in plain text.
var marshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}

// Unmarshal turns a gRPC struct into a property map (nil is an empty map).
func Unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, marshalOpts)
}

// Marshal turns a property map into a gRPC struct.
func Marshal(pm resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(pm, marshalOpts)
}

// LogFunc sends one message about a resource to the engine. Tests replace it to capture messages.
type LogFunc func(ctx context.Context, sev diag.Severity, urn resource.URN, msg string, ephemeral bool)

// Base implements every provider call that does not depend on the resource types. Providers embed it.
type Base struct {
	pulumirpc.UnimplementedResourceProviderServer

	Name    string // package name, e.g. "command"
	Version string // reported by GetPluginInfo; must match the npm SDK's version or the engine looks for another

	mu     sync.Mutex
	host   *provider.HostClient
	Logger LogFunc // nil: messages go to the engine's host client, if any

	cancelOnce sync.Once
	cancelCtx  context.Context
	cancel     context.CancelFunc
}

// New makes the Base of a provider. host may be nil (tests, or attach mode before Attach).
func New(name, version string, host *provider.HostClient) *Base {
	b := &Base{Name: name, Version: version, host: host}
	b.cancelCtx, b.cancel = context.WithCancel(context.Background())
	return b
}

// Log sends a message to the engine, tied to the resource so it shows under it in the CLI output. Failures are
// ignored: a lost log line must never fail a deployment.
func (b *Base) Log(ctx context.Context, sev diag.Severity, urn resource.URN, msg string, ephemeral bool) {
	if b.Logger != nil {
		b.Logger(ctx, sev, urn, msg, ephemeral)
		return
	}
	b.mu.Lock()
	host := b.host
	b.mu.Unlock()
	if host == nil {
		return
	}
	if ephemeral {
		_ = host.LogStatus(ctx, sev, urn, msg)
	} else {
		_ = host.Log(ctx, sev, urn, msg)
	}
}

// OpContext derives the context for one resource operation: cancelled by the engine's Cancel call, by the
// request's own context, or after the resource's customTimeouts (seconds, 0 = none).
func (b *Base) OpContext(ctx context.Context, timeoutSeconds float64) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.cancelCtx, cancel)
	if timeoutSeconds > 0 {
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeout(ctx, time.Duration(timeoutSeconds*float64(time.Second)))
		return ctx, func() { cancelT(); stop(); cancel() }
	}
	return ctx, func() { stop(); cancel() }
}

func (b *Base) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: b.Version}, nil
}

// GetSchema returns a minimal valid schema: the engine only needs the name and version for what mailstack does
// (SDK generation is done from the published npm packages, not from us).
func (b *Base) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	s, err := json.Marshal(map[string]string{"name": b.Name, "version": b.Version})
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetSchemaResponse{Schema: string(s)}, nil
}

// CheckConfig accepts whatever the engine sends (typically only "version"): there is no provider configuration.
func (b *Base) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// DiffConfig reports no change: nothing in the provider configuration affects resources, so a changed config must
// never cause the engine to replace them.
func (b *Base) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

// Configure declares that we take secrets (so we can keep them secret in outputs) and that Create/Update
// understand preview=true (so the engine asks us what a preview would produce).
func (b *Base) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

// Cancel aborts every running operation (the engine calls it on Ctrl-C before shutting us down).
func (b *Base) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	b.cancel()
	return &emptypb.Empty{}, nil
}

// Attach is the debugging mode where the provider is started by hand (no engine address on the command line)
// and the engine tells it where to connect.
func (b *Base) Attach(_ context.Context, req *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	host, err := provider.NewHostClient(req.GetAddress())
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.host = host
	b.mu.Unlock()
	return &emptypb.Empty{}, nil
}

// Failure builds one Check failure.
func Failure(property, format string, args ...any) *pulumirpc.CheckFailure {
	return &pulumirpc.CheckFailure{Property: property, Reason: fmt.Sprintf(format, args...)}
}

// OldInputs prefers the old inputs the engine sends; without them, the old outputs minus the keys that Create
// added (outputKeys) are the inputs.
func OldInputs(inputs, outputs *structpb.Struct, outputKeys []resource.PropertyKey) (resource.PropertyMap, error) {
	if inputs != nil {
		return Unmarshal(inputs)
	}
	olds, err := Unmarshal(outputs)
	if err != nil {
		return nil, err
	}
	for _, k := range outputKeys {
		delete(olds, k)
	}
	return olds, nil
}

// ReadState answers a Read (refresh, import) of a resource that lives only in the state (a command's run, a random
// value): the state as it is, with its inputs (the outputs minus outputKeys when the engine sends none).
func ReadState(req *pulumirpc.ReadRequest, outputKeys []resource.PropertyKey) (*pulumirpc.ReadResponse, error) {
	inputs := req.GetInputs()
	if inputs == nil {
		olds, err := OldInputs(nil, req.GetProperties(), outputKeys)
		if err != nil {
			return nil, err
		}
		if inputs, err = Marshal(olds); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: inputs}, nil
}

// Serve runs a provider plugin until the engine stops it; a failure to serve ends the process.
func Serve(name string, factory func(*provider.HostClient) pulumirpc.ResourceProviderServer) {
	err := provider.Main(name, func(h *provider.HostClient) (pulumirpc.ResourceProviderServer, error) { return factory(h), nil })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// DiffArgs is a Diff request's old inputs (see OldInputs) and new inputs.
func DiffArgs(req *pulumirpc.DiffRequest, outputKeys []resource.PropertyKey) (resource.PropertyMap, resource.PropertyMap, error) {
	olds, err := OldInputs(req.GetOldInputs(), req.GetOlds(), outputKeys)
	if err != nil {
		return nil, nil, err
	}
	news, err := Unmarshal(req.GetNews())
	return olds, news, err
}

// UpdateArgs is an Update request's new inputs and old state.
func UpdateArgs(req *pulumirpc.UpdateRequest) (resource.PropertyMap, resource.PropertyMap, error) {
	news, err := Unmarshal(req.GetNews())
	if err != nil {
		return nil, nil, err
	}
	olds, err := Unmarshal(req.GetOlds())
	return news, olds, err
}
