// Package command is mailstack's own implementation of the subset of the pulumi-command provider (v1.2.1) that
// mailstack uses: command:remote:Command, command:local:Command and command:remote:CopyToRemote (single files).
package command

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"

	"mailstack/toolchain/providers/internal/base"
)

// Version is the npm SDK version we stand in for: the engine asks for exactly this plugin version.
const Version = "1.2.1"

// Provider serves the command resources.
type Provider struct{ *base.Base }

// Main serves the provider to the engine: the plugin's main.
func Main() {
	base.Serve("command", func(h *provider.HostClient) pulumirpc.ResourceProviderServer { return New(h) })
}

// New is the factory for provider.Main.
func New(host *provider.HostClient) *Provider { return &Provider{base.New("command", Version, host)} }

// outputKeys are what Create adds to the inputs; they are dropped again when old outputs stand in for old inputs.
var outputKeys = []resource.PropertyKey{"stdout", "stderr"}

func resourceType(urn string) string { return string(resource.URN(urn).Type()) }

// Check validates the inputs. It adds no defaults (addPreviousOutputInEnv defaults to true when absent, but is
// not written into the inputs, as upstream); the connection defaults below are the npm SDK's own, for programs
// in other languages. connection is made secret here already: it holds credentials.
func (p *Provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	typ := resourceType(req.GetUrn())
	spec, ok := specs[typ]
	if !ok {
		return nil, fmt.Errorf("unknown resource type %q", typ)
	}
	news, err := base.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	failures := base.Validate(spec, news, "")
	if c, ok := news["connection"]; ok && !c.IsNull() {
		news["connection"] = resource.MakeSecret(connectionDefaults(c))
	}
	inputs, err := base.Marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

// connectionDefaults fills in the defaults the npm SDK also fills in (port 22, user root, 10 dial attempts of 15
// seconds), for programs in other languages. The value is returned untouched when it is not a known object.
func connectionDefaults(v resource.PropertyValue) resource.PropertyValue {
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if !v.IsObject() {
		return v
	}
	m := v.ObjectValue().Copy()
	base.SetDefault(m, "port", resource.NewNumberProperty(22))
	base.SetDefault(m, "user", resource.NewStringProperty("root"))
	base.SetDefault(m, "dialErrorLimit", resource.NewNumberProperty(10))
	base.SetDefault(m, "perDialTimeout", resource.NewNumberProperty(15))
	return resource.NewObjectProperty(m)
}

// Diff: a change of triggers replaces the resource (the new one is created, then the old one deleted); any other
// input change is an update, which re-runs `update` (or `create`). No change: nothing runs. As infer's default
// diff (pulumi-go-provider), a value that only became secret (or stopped being) is a change too.
func (p *Provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, news, err := base.DiffArgs(req, outputKeys)
	if err != nil {
		return nil, err
	}
	return base.DiffInputs(olds, news, base.DiffOptions{
		Replace:      func(k string) bool { return k == "triggers" },
		Ignore:       req.GetIgnoreChanges(),
		SecretsCount: true,
	}), nil
}

// Create runs `create` (nothing during a preview, when stdout and stderr are not known yet).
func (p *Provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	ctx, cancel := p.OpContext(ctx, req.GetTimeout())
	defer cancel()
	urn := resource.URN(req.GetUrn())
	inputs, err := base.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	id := ""
	if !req.GetPreview() {
		if id, err = resource.NewUniqueHex(urn.Name()+"-", 8, 0); err != nil {
			return nil, err
		}
	}
	outs, err := p.apply(ctx, urn, "create", inputs, nil, req.GetPreview())
	if err != nil {
		return nil, err
	}
	props, err := base.Marshal(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// Update runs `update`, or `create` when there is no `update`.
func (p *Provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	ctx, cancel := p.OpContext(ctx, req.GetTimeout())
	defer cancel()
	news, olds, err := base.UpdateArgs(req)
	if err != nil {
		return nil, err
	}
	outs, err := p.apply(ctx, resource.URN(req.GetUrn()), "update", news, previousOutput(olds), req.GetPreview())
	if err != nil {
		return nil, err
	}
	props, err := base.Marshal(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// Delete runs `delete`, if any, with the inputs and output of the last run (from the state).
func (p *Provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	ctx, cancel := p.OpContext(ctx, req.GetTimeout())
	defer cancel()
	urn := resource.URN(req.GetUrn())
	if urn.Type() == copyToRemoteType {
		return &emptypb.Empty{}, nil // the real provider leaves copied files in place, too
	}
	state, err := base.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	in, err := parseInputs(state)
	if err != nil {
		return nil, err
	}
	if in.delete != "" {
		if _, _, err := p.run(ctx, urn, in.delete, in, previousOutput(state)); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

// Read (refresh, import) returns the state as it is: what a command did cannot be read back.
func (p *Provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return base.ReadState(req, outputKeys)
}

// apply is the part of Create and Update that runs the command (or, in a preview, does not) and builds the
// outputs: the inputs, with secrets kept, plus stdout and stderr.
func (p *Provider) apply(ctx context.Context, urn resource.URN, phase string, inputs resource.PropertyMap,
	prev *[2]string, preview bool,
) (resource.PropertyMap, error) {
	outs := inputs.Copy()
	if c, ok := outs["connection"]; ok && !c.IsNull() && !c.IsSecret() {
		outs["connection"] = resource.MakeSecret(c)
	}
	if urn.Type() == copyToRemoteType {
		if preview || inputs.ContainsUnknowns() {
			return outs, nil
		}
		return outs, p.copyToRemote(ctx, urn, inputs)
	}

	// stdout and stderr are never secret by themselves (infer's default secret flow only carries a secret input
	// to the output of the same name): a program whose command prints secrets says additionalSecretOutputs.
	if preview || inputs.ContainsUnknowns() {
		unknown := resource.MakeComputed(resource.NewStringProperty(""))
		outs["stdout"], outs["stderr"] = unknown, unknown
		return outs, nil
	}

	in, err := parseInputs(inputs)
	if err != nil {
		return nil, err
	}
	cmd := in.create
	if phase == "update" && in.update != "" {
		cmd = in.update
	}
	stdout, stderr := "", ""
	if cmd != "" {
		if stdout, stderr, err = p.run(ctx, urn, cmd, in, prev); err != nil {
			return nil, err
		}
	}
	outs["stdout"], outs["stderr"] = resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)
	return outs, nil
}

// previousOutput reads stdout and stderr of the last run from a state, for PULUMI_COMMAND_STDOUT/STDERR.
func previousOutput(state resource.PropertyMap) *[2]string {
	stdout, _ := base.GetString(state, "stdout")
	stderr, _ := base.GetString(state, "stderr")
	return &[2]string{stdout, stderr}
}

// run executes one command line of the resource, locally or over SSH depending on its type, streaming its output
// to the engine as log messages on the resource.
func (p *Provider) run(ctx context.Context, urn resource.URN, cmd string, in *commandInputs,
	prev *[2]string,
) (string, string, error) {
	var r runner
	if urn.Type() == localCommandType {
		r = localRunner(in.interpreter, in.dir)
	} else {
		if in.conn == nil {
			return "", "", fmt.Errorf("no connection")
		}
		r = remoteRunner(in.conn)
	}
	return execute(ctx, execution{
		command: cmd,
		in:      in,
		prev:    prev,
		log:     func(sev diag.Severity, msg string, ephemeral bool) { p.Log(ctx, sev, urn, msg, ephemeral) },
	}, r)
}

// copyToRemote writes a single file asset to remotePath with `cat` over SSH (no SFTP needed). When remotePath is
// an existing directory, the file goes into it under the asset's own name, as with the real provider.
func (p *Provider) copyToRemote(ctx context.Context, urn resource.URN, inputs resource.PropertyMap) error {
	src := base.Plain(inputs["source"])
	if !src.IsAsset() {
		return fmt.Errorf("copy: only a single file asset is supported as source, not %s", src.TypeString())
	}
	a := src.AssetValue()
	data, err := a.Bytes()
	if err != nil {
		return fmt.Errorf("copy: reading the source asset: %w", err)
	}
	remotePath, _ := base.GetString(inputs, "remotePath")
	script := "p=" + shellQuote(remotePath) + "; "
	if a.IsPath() {
		script += `if [ -d "$p" ]; then p="$p"/` + shellQuote(filepath.Base(a.Path)) + "; fi; "
	}
	script += `cat > "$p"`
	// `cat` prints nothing but errors, so stderr may appear in an error message; the content never does.
	in := &commandInputs{logging: "none"}
	if c := base.Plain(inputs["connection"]); c.IsObject() {
		in.conn = parseConnection(c.ObjectValue())
	}
	content := string(data)
	in.stdin = &content
	_, _, err = p.run(ctx, urn, script, in, nil)
	return err
}

// shellQuote quotes one word for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
