// Package random is mailstack's own implementation of the subset of the pulumi-random provider (v4.21.2) that
// mailstack uses: random:index/randomPassword:RandomPassword, and RandomString alongside since it is the same
// generator with a public result.
package random

import (
	"context"
	"errors"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/types/known/emptypb"

	"mailstack/toolchain/providers/internal/base"
)

// Version is the npm SDK version we stand in for: the engine asks for exactly this plugin version.
const Version = "4.21.2"

const (
	passwordType = "random:index/randomPassword:RandomPassword"
	stringType   = "random:index/randomString:RandomString"
)

var spec = base.Spec{
	"length":          {Kind: base.Int, Required: true, Min: base.Int64Ptr(1)},
	"upper":           {Kind: base.Bool},
	"lower":           {Kind: base.Bool},
	"numeric":         {Kind: base.Bool},
	"number":          {Kind: base.Bool}, // deprecated alias of numeric
	"special":         {Kind: base.Bool},
	"minUpper":        {Kind: base.Int, Min: base.Int64Ptr(0)},
	"minLower":        {Kind: base.Int, Min: base.Int64Ptr(0)},
	"minNumeric":      {Kind: base.Int, Min: base.Int64Ptr(0)},
	"minSpecial":      {Kind: base.Int, Min: base.Int64Ptr(0)},
	"overrideSpecial": {Kind: base.String},
	"keepers":         {Kind: base.Map},
}

// outputKeys are what Create adds to the inputs.
var outputKeys = []resource.PropertyKey{"result", "bcryptHash"}

// Provider serves the random resources.
type Provider struct{ *base.Base }

// Main serves the provider to the engine: the plugin's main.
func Main() {
	base.Serve("random", func(h *provider.HostClient) pulumirpc.ResourceProviderServer { return New(h) })
}

// New is the factory for provider.Main.
func New(host *provider.HostClient) *Provider { return &Provider{base.New("random", Version, host)} }

func resourceType(urn string) (string, error) {
	t := string(resource.URN(urn).Type())
	if t != passwordType && t != stringType {
		return "", fmt.Errorf("unknown resource type %q", t)
	}
	return t, nil
}

// Check validates the inputs and stores them as given: the bridge's Plugin Framework Check adds no Terraform
// defaults to the inputs (pkg/pf/tfbridge/provider_check.go); they appear in the outputs only.
func (p *Provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if _, err := resourceType(req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := base.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	failures := base.Validate(spec, news, "")
	if len(failures) == 0 && !news.ContainsUnknowns() {
		prm := readParams(news)
		if sum := prm.minUpper + prm.minLower + prm.minNumeric + prm.minSpecial; sum > prm.length {
			failures = append(failures, base.Failure("length",
				"'length' (%d) must be at least the sum of the minimums (%d)", prm.length, sum))
		}
	}
	inputs, err := base.Marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

// withDefaults is the inputs with terraform-provider-random's schema defaults filled in (every class on, every
// minimum 0, number and numeric equal), as the state upstream holds them.
func withDefaults(in resource.PropertyMap) resource.PropertyMap {
	out := in.Copy()
	prm := readParams(in)
	for k, v := range map[string]bool{"upper": prm.upper, "lower": prm.lower, "numeric": prm.numeric,
		"number": prm.numeric, "special": prm.special} {
		if cur, ok := out[resource.PropertyKey(k)]; !ok || cur.IsNull() {
			out[resource.PropertyKey(k)] = resource.NewBoolProperty(v)
		}
	}
	for _, k := range []string{"minUpper", "minLower", "minNumeric", "minSpecial"} {
		if cur, ok := out[resource.PropertyKey(k)]; !ok || cur.IsNull() {
			out[resource.PropertyKey(k)] = resource.NewNumberProperty(0)
		}
	}
	return out
}

func readParams(pm resource.PropertyMap) params {
	p := params{
		length:     int(base.GetInt(pm, "length", 0)),
		upper:      base.GetBool(pm, "upper", true),
		lower:      base.GetBool(pm, "lower", true),
		numeric:    base.GetBool(pm, "numeric", true) && base.GetBool(pm, "number", true),
		special:    base.GetBool(pm, "special", true),
		minUpper:   int(base.GetInt(pm, "minUpper", 0)),
		minLower:   int(base.GetInt(pm, "minLower", 0)),
		minNumeric: int(base.GetInt(pm, "minNumeric", 0)),
		minSpecial: int(base.GetInt(pm, "minSpecial", 0)),
	}
	p.overrideSpecial, _ = base.GetString(pm, "overrideSpecial")
	return p
}

// Diff: every input change replaces the resource (a new value is generated), except two that
// internal/provider/resource_password.go marks otherwise: keepers only replace when a changed value is not null
// (RequiresReplaceIfValuesNotNull), and overrideSpecial going between "" and unset does not replace
// (RequiresReplaceUnlessEmptyStringToNull). Those are updates, which keep the value.
func (p *Provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, news, err := base.DiffArgs(req, outputKeys)
	if err != nil {
		return nil, err
	}
	// Compared as Terraform plans them: with the schema defaults filled in on both sides, so that an absent
	// `upper` equals a stored `upper: true` (state written with the defaults, or outputs standing in for inputs).
	olds, news = withDefaults(olds), withDefaults(news)
	soft := map[string]func(resource.PropertyValue) resource.PropertyValue{
		"keepers": nonNullKeepers, "overrideSpecial": emptyIsUnset,
	}
	return base.DiffInputs(olds, news, base.DiffOptions{
		Replace: func(k string) bool {
			f, ok := soft[k]
			pk := resource.PropertyKey(k)
			return !ok || news[pk].ContainsUnknowns() || !f(base.Plain(olds[pk])).DeepEquals(f(base.Plain(news[pk])))
		},
		Ignore: req.GetIgnoreChanges(),
	}), nil
}

// nonNullKeepers is keepers without null values; empty is the same as unset.
func nonNullKeepers(v resource.PropertyValue) resource.PropertyValue {
	if !v.IsObject() {
		return resource.NewNullProperty()
	}
	m := resource.PropertyMap{}
	for k, e := range v.ObjectValue() {
		if !e.IsNull() {
			m[k] = e
		}
	}
	if len(m) == 0 {
		return resource.NewNullProperty()
	}
	return resource.NewObjectProperty(m)
}

// emptyIsUnset treats "" as unset.
func emptyIsUnset(v resource.PropertyValue) resource.PropertyValue {
	if v.IsString() && v.StringValue() == "" {
		return resource.NewNullProperty()
	}
	return v
}

// Create generates the value, once: it is kept in the state and never regenerated except by a replacement.
// RandomPassword's result and bcryptHash are secrets; RandomString's result is not (and is also its ID).
func (p *Provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	typ, err := resourceType(req.GetUrn())
	if err != nil {
		return nil, err
	}
	inputs, err := base.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	outs := withDefaults(inputs)
	wrap := func(v resource.PropertyValue) resource.PropertyValue {
		if typ == passwordType {
			return resource.MakeSecret(v)
		}
		return v
	}

	id := ""
	if req.GetPreview() || inputs.ContainsUnknowns() {
		outs["result"] = wrap(resource.MakeComputed(resource.NewStringProperty("")))
		if typ == passwordType {
			outs["bcryptHash"] = wrap(resource.MakeComputed(resource.NewStringProperty("")))
		}
	} else {
		result, err := generate(readParams(inputs))
		if err != nil {
			return nil, err
		}
		outs["result"] = wrap(resource.NewStringProperty(result))
		id = result
		if typ == passwordType {
			hash, err := bcryptHash(result)
			if err != nil {
				return nil, err
			}
			outs["bcryptHash"] = wrap(resource.NewStringProperty(hash))
			id = "none" // as the real provider: the ID of a password must not be the password
		}
	}
	props, err := base.Marshal(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// bcryptHash hashes with the default cost. bcrypt only uses the first 72 bytes and the library refuses longer
// input, so longer passwords are hashed on their first 72 bytes (which is what any bcrypt check compares).
func bcryptHash(password string) (string, error) {
	b := []byte(password)
	if len(b) > 72 {
		b = b[:72]
	}
	h, err := bcrypt.GenerateFromPassword(b, bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// Update never changes the value: it runs for the changes that do not replace (keepers set to null values,
// overrideSpecial between "" and unset) and keeps the generated outputs, as upstream's Update copies the plan.
func (p *Provider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	news, olds, err := base.UpdateArgs(req)
	if err != nil {
		return nil, err
	}
	outs := news.Copy()
	for _, k := range outputKeys {
		if v, ok := olds[k]; ok {
			outs[k] = v
		}
	}
	props, err := base.Marshal(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// Read returns the state unchanged: the value lives only there.
func (p *Provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if len(req.GetProperties().GetFields()) == 0 {
		return nil, errors.New("importing a random value is not supported by mailstack's random provider")
	}
	return base.ReadState(req, outputKeys)
}

// Delete has nothing to do: the value only exists in the state.
func (p *Provider) Delete(context.Context, *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
