package hcloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"mailstack/toolchain/providers/internal/base"
)

// --- what a kind declares ---------------------------------------------------------------------------------------

// shape is the declarative part of a kind: its inputs, how a change of them is compared, its computed outputs,
// and which outputs are inputs again (state written without inputs, imports).
type shape struct {
	inputs   base.Spec
	rules    diffRules
	named    bool     // an SDKv2 resource with a name: replaced delete-first when the program named it
	outputs  []string // computed
	restored []string
	reader   func(ctx context.Context, op *operation, id string, inputs resource.PropertyMap) (resource.PropertyMap, error)
}

// read is the kind's read when it is the object of a numeric ID (see reads).
func (s shape) read(ctx context.Context, op *operation, id string, inputs, _ resource.PropertyMap) (resource.PropertyMap, error) {
	return s.reader(ctx, op, id, inputs)
}

// getter is how hcloud-go reads one object by ID.
type getter[T any] func(context.Context, int64) (*T, *hcloud.Response, error)

// reads is a shape's reader for the objects of numeric IDs: what the object is called, its getter in the client,
// and its outputs.
func reads[T any](what string, get func(*hcloud.Client) getter[T], outputs func(resource.PropertyMap, *T) resource.PropertyMap,
) func(context.Context, *operation, string, resource.PropertyMap) (resource.PropertyMap, error) {
	return func(ctx context.Context, op *operation, id string, inputs resource.PropertyMap) (resource.PropertyMap, error) {
		return readBy(ctx, what, id, get(op.client), inputs, outputs)
	}
}

func (s shape) spec() base.Spec    { return s.inputs }
func (s shape) computed() []string { return s.outputs }

func (s shape) diff(olds, news resource.PropertyMap, ignore []string) *pulumirpc.DiffResponse {
	d := diffInputs(olds, news, ignore, s.rules)
	if s.named {
		d = namedDiff(d, news)
	}
	return d
}

func (s shape) inputsFromOutputs(outs resource.PropertyMap) resource.PropertyMap {
	return inputsOf(outs, s.restored...)
}

var fieldKinds = map[string]base.Kind{"": base.String, "int": base.Int, "bool": base.Bool, "map": base.StringMap,
	"list": base.Array, "strings": base.StringArray}

// fields reads a spec from words "name[:kind][!][=a|b]": kind int, bool, map (of strings), list or strings (a
// string by default), "!" for a required field, "=" for the allowed values of a string.
func fields(words string) base.Spec {
	spec := base.Spec{}
	for _, w := range strings.Fields(words) {
		w, enum, _ := strings.Cut(w, "=")
		f := base.Field{Required: strings.HasSuffix(w, "!")}
		name, kind, _ := strings.Cut(strings.TrimSuffix(w, "!"), ":")
		k, ok := fieldKinds[kind]
		if !ok {
			panic("fields: unknown kind " + kind)
		}
		f.Kind = k
		if enum != "" {
			f.Enum = strings.Split(enum, "|")
		}
		spec[name] = f
	}
	return spec
}

// --- reading inputs (plain, known values) ---------------------------------------------------------------------

func str(pm resource.PropertyMap, key string) string {
	s, _ := base.GetString(pm, key)
	return s
}

// intOf returns a known integer input (a number, or a numeric string) and whether it is set (non-zero).
func intOf(pm resource.PropertyMap, key string) (int64, bool) {
	v := base.Plain(pm[resource.PropertyKey(key)])
	switch {
	case v.IsNumber():
		return int64(v.NumberValue()), v.NumberValue() != 0
	case v.IsString():
		n, err := strconv.ParseInt(v.StringValue(), 10, 64)
		return n, err == nil && n != 0
	}
	return 0, false
}

// listOf returns the elements of a list input that elem accepts (known ones of the right type).
func listOf[T any](pm resource.PropertyMap, key string, elem func(v any) (T, bool)) []T {
	var out []T
	if v := base.Plain(pm[resource.PropertyKey(key)]); v.IsArray() {
		for _, e := range v.ArrayValue() {
			if x, ok := elem(e.V); ok {
				out = append(out, x)
			}
		}
	}
	return out
}

func stringList(pm resource.PropertyMap, key string) []string {
	return listOf(pm, key, func(v any) (string, bool) { s, ok := v.(string); return s, ok })
}

func ints(pm resource.PropertyMap, key string) []int64 {
	return listOf(pm, key, func(v any) (int64, bool) { n, ok := v.(float64); return int64(n), ok })
}

// labels returns the labels input as a map, never nil: an empty map clears the labels in an update.
func labels(pm resource.PropertyMap) map[string]string {
	out := map[string]string{}
	v := base.Plain(pm["labels"])
	if v.IsObject() {
		for k, e := range v.ObjectValue() {
			if e.IsString() {
				out[string(k)] = e.StringValue()
			}
		}
	}
	return out
}

// --- building outputs -------------------------------------------------------------------------------------------

func strV(s string) resource.PropertyValue { return resource.NewStringProperty(s) }
func numV(n int64) resource.PropertyValue  { return resource.NewNumberProperty(float64(n)) }
func boolV(b bool) resource.PropertyValue  { return resource.NewBoolProperty(b) }

func labelsV(m map[string]string) resource.PropertyValue {
	pm := resource.PropertyMap{}
	for k, v := range m {
		pm[resource.PropertyKey(k)] = strV(v)
	}
	return resource.NewObjectProperty(pm)
}

func stringsV(ss []string) resource.PropertyValue {
	arr := make([]resource.PropertyValue, len(ss))
	for i, s := range ss {
		arr[i] = strV(s)
	}
	return resource.NewArrayProperty(arr)
}

func intsV(ns []int64) resource.PropertyValue {
	arr := make([]resource.PropertyValue, len(ns))
	for i, n := range ns {
		arr[i] = numV(n)
	}
	return resource.NewArrayProperty(arr)
}

// withoutInternal is pm without its internal keys ("__defaults"): they belong to the inputs, never to outputs.
func withoutInternal(pm resource.PropertyMap) resource.PropertyMap {
	out := pm.Copy()
	for k := range out {
		if resource.IsInternalPropertyKey(k) {
			delete(out, k)
		}
	}
	return out
}

func unknown() resource.PropertyValue { return resource.MakeComputed(resource.NewStringProperty("")) }

// mergeOutputs is the inputs (as given, secrets included, without the bridge's "__defaults") overlaid with what
// the API says; without inputs (an import), what the API says.
func mergeOutputs(inputs, api resource.PropertyMap) resource.PropertyMap {
	if inputs == nil {
		return api
	}
	outs := withoutInternal(inputs)
	for k, v := range api {
		outs[k] = v
	}
	return outs
}

// --- IDs ----------------------------------------------------------------------------------------------------------

func parseID(what, id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid %s ID %q: Hetzner Cloud IDs are positive integers", what, id)
	}
	return n, nil
}

// fetch reads the object of a resource ID; nil when it is gone.
func fetch[T any](ctx context.Context, what, id string, get getter[T]) (*T, error) {
	n, err := parseID(what, id)
	if err != nil {
		return nil, err
	}
	x, _, err := get(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", what, id, err)
	}
	return x, nil
}

// readBy is a kind's read: the object of the ID as outputs, or nil when it is gone.
func readBy[T any](ctx context.Context, what, id string, get getter[T],
	inputs resource.PropertyMap, outputs func(resource.PropertyMap, *T) resource.PropertyMap,
) (resource.PropertyMap, error) {
	x, err := fetch(ctx, what, id, get)
	if err != nil || x == nil {
		return nil, err
	}
	return outputs(inputs, x), nil
}

// deleteByID deletes the object of a resource ID; one that is gone already is no error.
func deleteByID(what, id string, del func(n int64) (*hcloud.Response, error)) error {
	n, err := parseID(what, id)
	if err != nil {
		return err
	}
	if _, err := del(n); err != nil && !notFound(err) {
		return fmt.Errorf("deleting %s %s: %w", what, id, err)
	}
	return nil
}

func idString(n int64) string { return strconv.FormatInt(n, 10) }

// --- validation -------------------------------------------------------------------------------------------------

func isInt(v resource.PropertyValue) bool {
	return v.IsNumber() && v.NumberValue() == math.Trunc(v.NumberValue())
}

// validateInt checks that an input declared as a number is an integer (IDs).
func validateInt(pm resource.PropertyMap, key string) []*pulumirpc.CheckFailure {
	v := base.Plain(pm[resource.PropertyKey(key)])
	if v.IsNull() || v.IsComputed() || v.IsOutput() || isInt(v) {
		return nil
	}
	return []*pulumirpc.CheckFailure{base.Failure(key, "'%s' must be an integer ID, not %s", key, describe(v))}
}

// validateInts checks a list of integer IDs.
func validateInts(pm resource.PropertyMap, key string) []*pulumirpc.CheckFailure {
	v := base.Plain(pm[resource.PropertyKey(key)])
	if !v.IsArray() {
		return nil // base.Validate reports a non-list
	}
	for i, e := range v.ArrayValue() {
		if !e.IsComputed() && !e.IsOutput() && !isInt(e) {
			return []*pulumirpc.CheckFailure{base.Failure(fmt.Sprintf("%s[%d]", key, i),
				"'%s[%d]' must be an integer ID, not %s", key, i, describe(e))}
		}
	}
	return nil
}

// validateObjects checks each element of a list of objects against spec.
func validateObjects(pm resource.PropertyMap, key string, spec base.Spec) []*pulumirpc.CheckFailure {
	v := base.Plain(pm[resource.PropertyKey(key)])
	if !v.IsArray() {
		return nil
	}
	var failures []*pulumirpc.CheckFailure
	for i, e := range v.ArrayValue() {
		path := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case e.IsComputed() || e.IsOutput():
		case !e.IsObject():
			failures = append(failures, base.Failure(path, "'%s' must be an object, not %s", path, describe(e)))
		default:
			failures = append(failures, base.Validate(spec, e.ObjectValue(), path+".")...)
		}
	}
	return failures
}

// validateLabels applies Hetzner's label rules (the API would reject the resource otherwise).
func validateLabels(pm resource.PropertyMap) []*pulumirpc.CheckFailure {
	v := base.Plain(pm["labels"])
	if !v.IsObject() || v.ContainsUnknowns() {
		return nil
	}
	m := map[string]any{}
	for k, e := range v.ObjectValue() {
		if !e.IsString() {
			return nil // base.Validate reports it
		}
		m[string(k)] = e.StringValue()
	}
	if ok, err := hcloud.ValidateResourceLabels(m); !ok {
		return []*pulumirpc.CheckFailure{base.Failure("labels", "'labels': %v", err)}
	}
	return nil
}

// unsupported fails for SDK properties that this provider does not implement, unless unset or at their default.
func unsupported(pm resource.PropertyMap, keys map[string]resource.PropertyValue) []*pulumirpc.CheckFailure {
	var failures []*pulumirpc.CheckFailure
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := base.Plain(pm[resource.PropertyKey(k)])
		if v.IsNull() || v.DeepEquals(keys[k]) || (v.IsArray() && len(v.ArrayValue()) == 0) {
			continue
		}
		failures = append(failures, base.Failure(k, "'%s' is not supported by mailstack's hcloud provider "+
			"(a subset of pulumi-hcloud %s); leave it unset", k, Version))
	}
	return failures
}

func describe(v resource.PropertyValue) string {
	if v.IsString() {
		return fmt.Sprintf("the string %q", v.StringValue())
	}
	if v.IsNumber() {
		return fmt.Sprintf("%v", v.NumberValue())
	}
	return v.TypeString()
}

// --- autonaming -------------------------------------------------------------------------------------------------

// autoname gives an unnamed resource the name the real (bridged) provider would: the resource's name, a dash and
// seven random hex digits, kept from the previous inputs once chosen. It says whether it chose the name.
func autoname(news, olds resource.PropertyMap, urn resource.URN, seed []byte) (bool, error) {
	if v, ok := news["name"]; ok && !v.IsNull() {
		return false, nil
	}
	if v, ok := olds["name"]; ok && v.IsString() {
		news["name"] = v
		return true, nil
	}
	prefix := urn.Name() + "-"
	if len(seed) > 0 {
		sum := sha256.Sum256(append([]byte(string(urn)), seed...))
		news["name"] = strV(prefix + hex.EncodeToString(sum[:])[:7])
		return true, nil
	}
	name, err := resource.NewUniqueHex(prefix, 7, 0)
	if err != nil {
		return false, err
	}
	news["name"] = strV(name)
	return true, nil
}

// defaultsKey is where the bridge records, in the inputs of an SDKv2 resource, which properties it filled in
// (pkg/tfbridge/schema.go, defaultsKey); the name rule for delete-before-replace reads it.
const defaultsKey = resource.PropertyKey("__defaults")

// nameGiven says whether the program set the name itself (it is not among the recorded defaults).
func nameGiven(news resource.PropertyMap) bool {
	if d := news[defaultsKey]; d.IsArray() {
		for _, e := range d.ArrayValue() {
			if e.IsString() && e.StringValue() == "name" {
				return false
			}
		}
	}
	return true
}

// namedDiff adds the bridge's delete-before-replace rule for SDKv2 resources (pulumi-terraform-bridge
// pkg/tfbridge/provider.go Diff, nameRequiresDeleteBeforeReplace): a replacement deletes first when the program
// set the autonamed name, which the new resource could not take.
func namedDiff(resp *pulumirpc.DiffResponse, news resource.PropertyMap) *pulumirpc.DiffResponse {
	resp.DeleteBeforeReplace = len(resp.Replaces) > 0 && nameGiven(news)
	return resp
}

// --- diffing ------------------------------------------------------------------------------------------------------

// diffRules says how one kind compares inputs.
type diffRules struct {
	replace []string // changes of these keys replace
	// normal maps keys to the form in which they are compared: Terraform sets without order (sortedSet), a
	// DiffSuppressFunc's equivalence (trimmed).
	normal map[string]func(resource.PropertyValue) resource.PropertyValue
}

// diffInputs compares old and new inputs with the kind's rules. It never asks for delete-before-replace: the
// bridge does not for Plugin Framework resources (pkg/pf/tfbridge/provider_diff.go, deleteBeforeReplace :=
// false), and for SDKv2 resources only by the name rule that serverKind applies itself.
func diffInputs(olds, news resource.PropertyMap, ignore []string, rules diffRules) *pulumirpc.DiffResponse {
	o, n := olds.Copy(), news.Copy()
	for k, f := range rules.normal {
		key := resource.PropertyKey(k)
		for _, pm := range []resource.PropertyMap{o, n} {
			if v, ok := pm[key]; ok && !v.ContainsUnknowns() {
				pm[key] = f(base.Plain(v))
			}
		}
	}
	return base.DiffInputs(o, n, base.DiffOptions{
		Replace: func(k string) bool { return slices.Contains(rules.replace, k) },
		Ignore:  ignore,
	})
}

// trimmed compares a string without surrounding whitespace.
func trimmed(v resource.PropertyValue) resource.PropertyValue {
	if v.IsString() {
		return strV(strings.TrimSpace(v.StringValue()))
	}
	return v
}

// sortedSet is a Terraform set as a diff sees it: its elements (without internal keys) in one order.
func sortedSet(v resource.PropertyValue) resource.PropertyValue {
	if !v.IsArray() {
		return v
	}
	arr := make([]resource.PropertyValue, len(v.ArrayValue()))
	for i, e := range v.ArrayValue() {
		arr[i] = base.Comparable(e, false)
	}
	sort.Slice(arr, func(i, j int) bool { return fmt.Sprint(arr[i]) < fmt.Sprint(arr[j]) })
	return resource.NewArrayProperty(slices.CompactFunc(arr, func(a, b resource.PropertyValue) bool { return a.DeepEquals(b) }))
}

// keepComputed is previewUpdate's usual answer: the new inputs plus the computed outputs of the state; those
// listed in changed are unknown.
func keepComputed(state, news resource.PropertyMap, computed []string, changed ...string) resource.PropertyMap {
	outs := withoutInternal(news)
	for _, c := range computed {
		key := resource.PropertyKey(c)
		if v, ok := news[key]; ok && !v.IsNull() && !v.IsComputed() {
			continue // an input that is also an output: the new input wins
		}
		if slices.Contains(changed, c) {
			outs[key] = unknown()
		} else if v, ok := state[key]; ok {
			outs[key] = v
		}
	}
	return outs
}

// inputsOf picks keys from outputs.
func inputsOf(outs resource.PropertyMap, keys ...string) resource.PropertyMap {
	in := resource.PropertyMap{}
	for _, k := range keys {
		if v, ok := outs[resource.PropertyKey(k)]; ok && !v.IsNull() {
			in[resource.PropertyKey(k)] = v
		}
	}
	return in
}

// notFound says whether err is the API's not_found.
func notFound(err error) bool { return hcloud.IsError(err, hcloud.ErrorCodeNotFound) }

// idOrName turns "123" into an ID and anything else into a name, as the API's ID-or-name parameters take them.
func idOrName(s string) (int64, string) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return n, ""
	}
	return 0, s
}
