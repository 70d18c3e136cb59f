// Package hcloud is mailstack's own implementation of the subset of the pulumi-hcloud provider (v1.41.0, a bridge
// of terraform-provider-hcloud) that mailstack uses: SshKey, PrimaryIp, Server, Rdns, Firewall,
// FirewallAttachment, Volume, VolumeAttachment, Zone and ZoneRrset, with the npm SDK's type tokens and property names, over the Hetzner Cloud API through
// hcloud-go.
//
// What it does like the real provider: the provider configuration (token from hcloud:token or HCLOUD_TOKEN,
// endpoint, pollInterval, pollFunction; a token must be 64 characters long), which changes update in place and
// which replace, the replacement order (create first, except an SDKv2 resource the program named), inputs stored
// as given (SDKv2 kinds with the bridge's "__defaults"), numeric string IDs (Rdns: "p-ID-IP" / "s-ID-IP"), waiting
// for every action, autonaming of an unset name, and previews that never reach the API. toolchain/README.md lists
// every difference from upstream that was found, with what became of it.
//
// Where it differs, on purpose (the stack does not need more):
//   - Check rejects properties of the SDK that this subset does not implement (networks, iso, rescue, ...) when
//     they are set to anything but their default, instead of silently ignoring them.
//   - Server images and types are passed to the API by name (or ID), without the real provider's lookup of the
//     image for the server type's architecture and its deprecation checks.
package hcloud

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"mailstack/toolchain/providers/internal/base"
)

// Version is the npm SDK version we stand in for: the engine asks for exactly this plugin version.
const Version = "1.41.0"

// Resource type tokens, as in the npm SDK.
const (
	sshKeyType             = "hcloud:index/sshKey:SshKey"
	primaryIPType          = "hcloud:index/primaryIp:PrimaryIp"
	serverType             = "hcloud:index/server:Server"
	rdnsType               = "hcloud:index/rdns:Rdns"
	firewallType           = "hcloud:index/firewall:Firewall"
	firewallAttachmentType = "hcloud:index/firewallAttachment:FirewallAttachment"
	volumeType             = "hcloud:index/volume:Volume"
	volumeAttachmentType   = "hcloud:index/volumeAttachment:VolumeAttachment"
	zoneType               = "hcloud:index/zone:Zone"
	zoneRrsetType          = "hcloud:index/zoneRrset:ZoneRrset"
)

// errNoToken is what any API call fails with when no token is configured. The message names both ways to set one.
var errNoToken = errors.New("no Hetzner Cloud API token: set it with `pulumi config set --secret hcloud:token` " +
	"or in the environment variable HCLOUD_TOKEN")

// kind is one resource type: its input spec and its operations. The provider does the plumbing (unmarshalling,
// secrets, previews, partial failures); a kind only talks to the API.
type kind interface {
	// spec is the inputs' shape for base.Validate.
	spec() base.Spec
	// check adds defaults to news (olds are the previous inputs, or nil) and validates what the spec cannot.
	check(news, olds resource.PropertyMap) []*pulumirpc.CheckFailure
	// diff decides replace or update; news may hold unknowns.
	diff(olds, news resource.PropertyMap, ignore []string) *pulumirpc.DiffResponse
	// computed lists the output-only properties, unknown in a preview of a create.
	computed() []string
	// create makes the resource and returns its ID and outputs. A non-empty ID with an error means the
	// resource exists but is not ready (a partial failure: the engine keeps it in the state).
	create(ctx context.Context, op *operation, inputs resource.PropertyMap) (string, resource.PropertyMap, error)
	// read returns the current outputs, or nil when the resource is gone. inputs may be nil (import).
	read(ctx context.Context, op *operation, id string, inputs, state resource.PropertyMap) (resource.PropertyMap, error)
	// update applies news (Diff said: no replacement) and returns the new outputs.
	update(ctx context.Context, op *operation, id string, olds, state, news resource.PropertyMap) (resource.PropertyMap, error)
	// delete removes the resource; one that is already gone is no error.
	delete(ctx context.Context, op *operation, id string, state resource.PropertyMap) error
	// inputsFromOutputs extracts inputs from outputs (for state written without inputs, and imports).
	inputsFromOutputs(outs resource.PropertyMap) resource.PropertyMap
}

// previewer is a kind whose update preview is more than keepComputed: it returns the outputs a preview shows
// for an update: news, and the computed outputs of the state except those the change may alter, which are unknown.
type previewer interface {
	previewUpdate(olds, state, news resource.PropertyMap) resource.PropertyMap
}

// importer is a kind whose import ID is not its resource ID (upstream's ImportState): it returns the resource ID
// and what the state must hold to read it.
type importer interface {
	resolveImport(ctx context.Context, op *operation, id string) (string, resource.PropertyMap, error)
}

// warner is a kind whose Check also warns, as Terraform's ValidateConfig warnings reach the CLI upstream.
type warner interface {
	warnings(news resource.PropertyMap) []string
}

// sdkv2 are the kinds upstream implements with terraform-plugin-sdk/v2 (the others with the Plugin Framework):
// the bridge treats them differently in Check (__defaults) and Diff (delete-before-replace by name).
var sdkv2 = map[tokens.Type]bool{serverType: true, firewallType: true, firewallAttachmentType: true,
	volumeType: true, volumeAttachmentType: true}

var kinds = map[string]kind{
	sshKeyType:             sshKeyKind{sshKeyShape},
	primaryIPType:          primaryIPKind{primaryIPShape},
	serverType:             serverKind{serverShape},
	rdnsType:               rdnsKind{rdnsShape},
	firewallType:           firewallKind{firewallShape},
	firewallAttachmentType: firewallAttachmentKind{firewallAttachmentShape},
	volumeType:             volumeKind{volumeShape},
	volumeAttachmentType:   volumeAttachmentKind{volumeAttachmentShape},
	zoneType:               zoneKind{zoneShape},
	zoneRrsetType:          zoneRrsetKind{zoneRrsetShape},
}

// config is the provider configuration. The token is never logged nor put in an error message.
type config struct {
	token        string
	tokenUnknown bool // e.g. from an output of another resource, during a preview
	endpoint     string
	pollInterval time.Duration
	pollFunction string // "exponential" (the real provider's default) or "constant"
}

// Provider serves the hcloud resources.
type Provider struct {
	*base.Base

	cfgMu sync.Mutex
	cfg   config
}

// Main serves the provider to the engine: the plugin's main.
func Main() {
	base.Serve("hcloud", func(h *provider.HostClient) pulumirpc.ResourceProviderServer { return New(h) })
}

// New is the factory for provider.Main.
func New(host *provider.HostClient) *Provider {
	return &Provider{Base: base.New("hcloud", Version, host),
		cfg: config{pollInterval: 500 * time.Millisecond, pollFunction: "exponential"}}
}

// configSpec is the provider's own configuration, as the npm SDK's Provider args.
var configSpec = func() base.Spec {
	s := base.Spec{"pollFunction": {Kind: base.String, Enum: []string{"constant", "exponential"}}}
	for _, k := range []string{"token", "endpoint", "endpointHetzner", "pollInterval", "version"} {
		s[k] = base.Field{Kind: base.String}
	}
	return s
}()

// CheckConfig validates the configuration and makes the token secret, so that it is never stored in plain text.
// It does not require a token: a preview works without one.
func (p *Provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := base.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	for _, f := range base.Validate(configSpec, news, "") {
		if strings.HasPrefix(f.GetReason(), "unknown property") {
			continue // other keys of the hcloud: namespace are none of our business
		}
		failures = append(failures, f)
	}
	if v, ok := base.GetString(news, "pollInterval"); ok {
		if _, err := time.ParseDuration(v); err != nil {
			failures = append(failures, base.Failure("pollInterval",
				"'pollInterval' must be a duration such as 500ms or 2s, not %q", v))
		}
	}
	if t, ok := news["token"]; ok && !t.IsNull() && !t.IsSecret() {
		news["token"] = resource.MakeSecret(t)
	}
	inputs, err := base.Marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

// Configure reads the configuration. It never calls the API, so that an offline preview works; a missing token
// is only an error once an operation needs the API.
func (p *Provider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	args, err := base.Unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	// Older engines send the configuration only as "hcloud:config:KEY" variables.
	for k, v := range req.GetVariables() {
		key := strings.TrimPrefix(k, "hcloud:config:")
		if key == k {
			continue
		}
		if _, ok := args[resource.PropertyKey(key)]; !ok {
			args[resource.PropertyKey(key)] = resource.NewStringProperty(v)
		}
	}
	cfg, err := parseConfig(args, os.Getenv)
	if err != nil {
		return nil, err
	}
	p.cfgMu.Lock()
	p.cfg = cfg
	p.cfgMu.Unlock()
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

// parseConfig applies the real provider's rules: the configuration first, then the environment (HCLOUD_TOKEN,
// HCLOUD_ENDPOINT, HCLOUD_POLL_INTERVAL); a token must be exactly 64 characters long.
func parseConfig(args resource.PropertyMap, getenv func(string) string) (config, error) {
	cfg := config{pollInterval: 500 * time.Millisecond, pollFunction: "exponential"}
	if t := args["token"]; t.ContainsUnknowns() {
		cfg.tokenUnknown = true
	} else if v, ok := base.GetString(args, "token"); ok && v != "" {
		cfg.token = v
	} else {
		cfg.token = getenv("HCLOUD_TOKEN")
	}
	if !cfg.tokenUnknown && cfg.token != "" && len(cfg.token) != 64 {
		return config{}, fmt.Errorf("the Hetzner Cloud API token (hcloud:token or HCLOUD_TOKEN) is invalid: "+
			"it must be exactly 64 characters long, not %d", len(cfg.token))
	}
	if v, ok := base.GetString(args, "endpoint"); ok && v != "" {
		cfg.endpoint = v
	} else {
		cfg.endpoint = getenv("HCLOUD_ENDPOINT")
	}
	interval, ok := base.GetString(args, "pollInterval")
	if !ok || interval == "" {
		interval = getenv("HCLOUD_POLL_INTERVAL")
	}
	if interval != "" {
		d, err := time.ParseDuration(interval)
		if err != nil || d <= 0 {
			return config{}, fmt.Errorf("hcloud:pollInterval must be a positive duration such as 500ms, not %q", interval)
		}
		cfg.pollInterval = d
	}
	if v, ok := base.GetString(args, "pollFunction"); ok && v != "" {
		cfg.pollFunction = v
	}
	return cfg, nil
}

// operation is what a kind needs for one create, read, update or delete: the API client and a way to report
// progress on the resource.
type operation struct {
	client *hcloud.Client
	status func(msg string)
	warn   func(msg string)
}

// wait blocks until the actions are done, failing with the first one that fails.
func (op *operation) wait(ctx context.Context, actions ...*hcloud.Action) error {
	return op.client.Action.WaitFor(ctx, actions...)
}

// act calls an API action, reporting it as the status, and waits for it; doing names it in the error.
func (op *operation) act(ctx context.Context, doing string, call func() (*hcloud.Action, *hcloud.Response, error)) error {
	op.status(doing)
	action, _, err := call()
	if err == nil {
		err = op.wait(ctx, action)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	return nil
}

func (p *Provider) operation(ctx context.Context, urn resource.URN) (*operation, error) {
	p.cfgMu.Lock()
	cfg := p.cfg
	p.cfgMu.Unlock()
	if cfg.token == "" {
		return nil, errNoToken
	}
	backoff := hcloud.ExponentialBackoffWithOpts(hcloud.ExponentialBackoffOpts{
		Base: cfg.pollInterval, Multiplier: 2, Cap: 30 * cfg.pollInterval, Jitter: false,
	})
	if cfg.pollFunction == "constant" {
		backoff = hcloud.ConstantBackoff(cfg.pollInterval)
	}
	opts := []hcloud.ClientOption{
		hcloud.WithToken(cfg.token),
		hcloud.WithApplication("mailstack-pulumi-resource-hcloud", Version),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: backoff}),
	}
	if cfg.endpoint != "" {
		opts = append(opts, hcloud.WithEndpoint(cfg.endpoint))
	}
	return &operation{
		client: hcloud.NewClient(opts...),
		status: func(msg string) { p.Log(ctx, diag.Info, urn, msg, true) },
		warn:   func(msg string) { p.Log(ctx, diag.Warning, urn, msg, false) },
	}, nil
}

func kindOf(urn string) (kind, error) {
	t := string(resource.URN(urn).Type())
	k, ok := kinds[t]
	if !ok {
		return nil, fmt.Errorf("mailstack's hcloud provider does not implement the resource type %q", t)
	}
	return k, nil
}

// kindAnd is the kind of the resource and the property map of one of the request's structs.
func kindAnd(urn string, s *structpb.Struct) (kind, resource.PropertyMap, error) {
	k, err := kindOf(urn)
	if err != nil {
		return nil, nil, err
	}
	pm, err := base.Unmarshal(s)
	return k, pm, err
}

// kindAndMaybe is kindAnd, and the property map of a second struct the engine may leave out (nil then).
func kindAndMaybe(urn string, s, maybe *structpb.Struct) (kind, resource.PropertyMap, resource.PropertyMap, error) {
	k, pm, err := kindAnd(urn, s)
	if err != nil || maybe == nil {
		return k, pm, nil, err
	}
	other, err := base.Unmarshal(maybe)
	return k, pm, other, err
}

// Check validates the inputs, applies the defaults and names an unnamed resource.
func (p *Provider) Check(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	k, news, olds, err := kindAndMaybe(req.GetUrn(), req.GetNews(), req.GetOlds())
	if err != nil {
		return nil, err
	}
	urn := resource.URN(req.GetUrn())
	failures := base.Validate(k.spec(), news, "")
	failures = append(failures, k.check(news, olds)...)
	if w, ok := k.(warner); ok {
		for _, msg := range w.warnings(news) {
			p.Log(ctx, diag.Warning, urn, msg, false)
		}
	}
	named := false
	if _, ok := k.spec()["name"]; ok {
		if named, err = autoname(news, olds, urn, req.GetRandomSeed()); err != nil {
			return nil, err
		}
	}
	if sdkv2[urn.Type()] {
		// As the bridge's Check for SDKv2 resources: the list of what it filled in, here at most the name.
		defaults := []resource.PropertyValue{}
		if named {
			defaults = append(defaults, strV("name"))
		}
		news[defaultsKey] = resource.NewArrayProperty(defaults)
	}
	inputs, err := base.Marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

// Diff never calls the API.
func (p *Provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	k, err := kindOf(req.GetUrn())
	if err != nil {
		return nil, err
	}
	olds, err := oldInputs(k, req.GetOldInputs(), req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := base.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	return k.diff(olds, news, req.GetIgnoreChanges()), nil
}

func oldInputs(k kind, inputs, outputs *structpb.Struct) (resource.PropertyMap, error) {
	if inputs != nil {
		return base.Unmarshal(inputs)
	}
	outs, err := base.Unmarshal(outputs)
	if err != nil {
		return nil, err
	}
	return k.inputsFromOutputs(outs), nil
}

// Create makes the resource, or in a preview returns the inputs with every computed output unknown.
func (p *Provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	k, inputs, err := kindAnd(req.GetUrn(), req.GetProperties())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() || inputs.ContainsUnknowns() {
		outs := withoutInternal(inputs)
		for _, c := range k.computed() {
			if v, ok := outs[resource.PropertyKey(c)]; !ok || v.IsNull() {
				outs[resource.PropertyKey(c)] = resource.MakeComputed(resource.NewStringProperty(""))
			}
		}
		props, err := base.Marshal(outs)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Properties: props}, nil
	}
	ctx, cancel := p.OpContext(ctx, req.GetTimeout())
	defer cancel()
	urn := resource.URN(req.GetUrn())
	op, err := p.operation(ctx, urn)
	if err != nil {
		return nil, err
	}
	id, outs, err := k.create(ctx, op, base.PlainMap(inputs))
	if err != nil {
		if id == "" {
			return nil, err
		}
		// The resource exists but did not become ready: the engine must keep it, or it would leak.
		if outs == nil {
			outs = inputs.Copy()
		}
		return nil, initFailed(id, keepSecrets(inputs, withoutInternal(outs)), req.GetProperties(), err)
	}
	props, err := base.Marshal(keepSecrets(inputs, withoutInternal(outs)))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// initFailed is the error of a create whose resource exists but failed to become ready.
func initFailed(id string, outs resource.PropertyMap, inputs *structpb.Struct, cause error) error {
	props, err := base.Marshal(outs)
	if err != nil {
		return cause
	}
	st, err := status.New(codes.Unknown, cause.Error()).WithDetails(&pulumirpc.ErrorResourceInitFailed{
		Id: id, Properties: props, Reasons: []string{cause.Error()}, Inputs: inputs,
	})
	if err != nil {
		return cause
	}
	return st.Err()
}

// keepSecrets makes every output whose input was secret secret too.
func keepSecrets(inputs, outs resource.PropertyMap) resource.PropertyMap {
	for k, v := range inputs {
		if v.ContainsSecrets() {
			if o, ok := outs[k]; ok && !o.IsSecret() {
				outs[k] = resource.MakeSecret(o)
			}
		}
	}
	return outs
}

// Read refreshes the outputs (and the inputs the API can tell) from the API; a resource that is gone has no ID.
func (p *Provider) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	k, state, inputs, err := kindAndMaybe(req.GetUrn(), req.GetProperties(), req.GetInputs())
	if err != nil {
		return nil, err
	}
	if inputs == nil && len(state) > 0 {
		inputs = k.inputsFromOutputs(state)
	}
	urn := resource.URN(req.GetUrn())
	op, err := p.operation(ctx, urn)
	if err != nil {
		return nil, err
	}
	id := req.GetId()
	if imp, ok := k.(importer); ok && inputs == nil && len(state) == 0 {
		if id, state, err = imp.resolveImport(ctx, op, id); err != nil {
			return nil, err
		}
	}
	var plainInputs resource.PropertyMap
	if inputs != nil {
		plainInputs = base.PlainMap(inputs)
	}
	outs, err := k.read(ctx, op, id, plainInputs, base.PlainMap(state))
	if err != nil {
		return nil, err
	}
	if outs == nil {
		return &pulumirpc.ReadResponse{}, nil // deleted outside of Pulumi
	}
	newInputs := k.inputsFromOutputs(outs)
	if inputs != nil {
		// Keep the inputs as they were given, updated only where the API says otherwise.
		merged := inputs.Copy()
		for key := range inputs {
			if v, ok := newInputs[key]; ok && !base.Plain(inputs[key]).DeepEquals(v) {
				merged[key] = v
			}
		}
		newInputs = merged
		outs = keepSecrets(inputs, outs)
	}
	props, err := base.Marshal(withoutInternal(outs))
	if err != nil {
		return nil, err
	}
	ins, err := base.Marshal(newInputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: id, Properties: props, Inputs: ins}, nil
}

// Update applies an in-place change, or in a preview returns what it will look like.
func (p *Provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	k, err := kindOf(req.GetUrn())
	if err != nil {
		return nil, err
	}
	news, state, err := base.UpdateArgs(req)
	if err != nil {
		return nil, err
	}
	olds, err := oldInputs(k, req.GetOldInputs(), req.GetOlds())
	if err != nil {
		return nil, err
	}
	var outs resource.PropertyMap
	if req.GetPreview() || news.ContainsUnknowns() {
		outs = keepComputed(state, news, k.computed())
		if pv, ok := k.(previewer); ok {
			outs = pv.previewUpdate(olds, state, news)
		}
	} else {
		ctx, cancel := p.OpContext(ctx, req.GetTimeout())
		defer cancel()
		op, err := p.operation(ctx, resource.URN(req.GetUrn()))
		if err != nil {
			return nil, err
		}
		if outs, err = k.update(ctx, op, req.GetId(), base.PlainMap(olds), base.PlainMap(state),
			base.PlainMap(news)); err != nil {
			return nil, err
		}
	}
	props, err := base.Marshal(keepSecrets(news, withoutInternal(outs)))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// Delete removes the resource and waits for it to be gone.
func (p *Provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	k, state, err := kindAnd(req.GetUrn(), req.GetProperties())
	if err != nil {
		return nil, err
	}
	ctx, cancel := p.OpContext(ctx, req.GetTimeout())
	defer cancel()
	op, err := p.operation(ctx, resource.URN(req.GetUrn()))
	if err != nil {
		return nil, err
	}
	if err := k.delete(ctx, op, req.GetId(), base.PlainMap(state)); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}
