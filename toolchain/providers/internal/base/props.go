package base

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Plain returns v with every secret wrapper removed, deeply. Used to compare and read values; never to build
// outputs (that would drop secretness).
func Plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return Plain(v.SecretValue().Element)
	case v.IsArray():
		arr := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			arr[i] = Plain(e)
		}
		return resource.NewArrayProperty(arr)
	case v.IsObject():
		return resource.NewObjectProperty(PlainMap(v.ObjectValue()))
	}
	return v
}

// PlainMap is Plain for a whole map.
func PlainMap(pm resource.PropertyMap) resource.PropertyMap {
	out := make(resource.PropertyMap, len(pm))
	for k, v := range pm {
		out[k] = Plain(v)
	}
	return out
}

// Kind is the expected shape of an input, for Check's type validation.
type Kind int

const (
	String Kind = iota
	Bool
	Int
	StringArray
	Array     // any elements (triggers)
	StringMap // map of strings (environment)
	Map       // any values (keepers)
	Object    // a nested object validated by its own Spec
	Asset     // an asset or archive
)

// Field describes one input property.
type Field struct {
	Kind     Kind
	Required bool
	Enum     []string // allowed values of a String
	Min      *int64   // lower bound of an Int
	Fields   Spec     // the members of an Object
}

// Spec maps property names to their descriptions.
type Spec map[string]Field

// Validate checks the inputs against spec and returns one failure per problem. Unknown (computed) values pass:
// they are checked again once known. Property names unknown to the spec fail, so typos do not go unnoticed.
func Validate(spec Spec, pm resource.PropertyMap, prefix string) []*pulumirpc.CheckFailure {
	var failures []*pulumirpc.CheckFailure
	for _, name := range sortedKeys(spec) {
		f := spec[name]
		if v, ok := pm[resource.PropertyKey(name)]; (!ok || v.IsNull()) && f.Required {
			failures = append(failures, Failure(prefix+name, "missing required property '%s'", prefix+name))
		}
	}
	for _, k := range pm.StableKeys() {
		path := prefix + string(k)
		f, known := spec[string(k)]
		if !known {
			if !resource.IsInternalPropertyKey(k) {
				failures = append(failures, Failure(path, "unknown property '%s'", path))
			}
			continue
		}
		failures = append(failures, validateValue(f, Plain(pm[k]), path)...)
	}
	return failures
}

func validateValue(f Field, v resource.PropertyValue, path string) []*pulumirpc.CheckFailure {
	if v.IsNull() || v.IsComputed() {
		return nil
	}
	bad := func(want string) []*pulumirpc.CheckFailure {
		return []*pulumirpc.CheckFailure{Failure(path, "'%s' must be %s, not %s", path, want, v.TypeString())}
	}
	switch f.Kind {
	case String:
		if !v.IsString() {
			return bad("a string")
		}
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, v.StringValue()) {
			return []*pulumirpc.CheckFailure{Failure(path, "'%s' must be one of %q, not %q", path, f.Enum, v.StringValue())}
		}
	case Bool:
		if !v.IsBool() {
			return bad("a boolean")
		}
	case Int:
		if !v.IsNumber() || v.NumberValue() != math.Trunc(v.NumberValue()) {
			return bad("an integer")
		}
		if f.Min != nil && int64(v.NumberValue()) < *f.Min {
			return []*pulumirpc.CheckFailure{Failure(path, "'%s' must be at least %d, not %v", path, *f.Min, v.NumberValue())}
		}
	case StringArray:
		if !v.IsArray() {
			return bad("a list of strings")
		}
		for i, e := range v.ArrayValue() {
			if !e.IsString() && !e.IsComputed() {
				return []*pulumirpc.CheckFailure{Failure(fmt.Sprintf("%s[%d]", path, i), "'%s[%d]' must be a string", path, i)}
			}
		}
	case Array:
		if !v.IsArray() {
			return bad("a list")
		}
	case StringMap:
		if !v.IsObject() {
			return bad("a map of strings")
		}
		for k, e := range v.ObjectValue() {
			if !e.IsString() && !e.IsComputed() {
				return []*pulumirpc.CheckFailure{Failure(path+"."+string(k), "'%s.%s' must be a string", path, k)}
			}
		}
	case Map:
		if !v.IsObject() {
			return bad("a map")
		}
	case Asset:
		if !v.IsAsset() && !v.IsArchive() {
			return bad("an asset or archive")
		}
	case Object:
		if !v.IsObject() {
			return bad("an object")
		}
		return Validate(f.Fields, v.ObjectValue(), path+".")
	}
	return nil
}

// Int64Ptr is a helper for Field.Min.
func Int64Ptr(v int64) *int64 { return &v }

// Comparable is v as a diff sees it: without the bridge's bookkeeping keys ("__defaults") at any depth, and,
// unless secrets count, without secret wrappers.
func Comparable(v resource.PropertyValue, secretsCount bool) resource.PropertyValue {
	switch {
	case v.IsSecret():
		if secretsCount {
			return resource.MakeSecret(Comparable(v.SecretValue().Element, true))
		}
		return Comparable(v.SecretValue().Element, false)
	case v.IsArray():
		arr := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			arr[i] = Comparable(e, secretsCount)
		}
		return resource.NewArrayProperty(arr)
	case v.IsObject():
		return resource.NewObjectProperty(WithoutInternal(v.ObjectValue(), secretsCount))
	}
	return v
}

// WithoutInternal is Comparable for a whole map.
func WithoutInternal(pm resource.PropertyMap, secretsCount bool) resource.PropertyMap {
	out := make(resource.PropertyMap, len(pm))
	for k, v := range pm {
		if !resource.IsInternalPropertyKey(k) {
			out[k] = Comparable(v, secretsCount)
		}
	}
	return out
}

// DiffOptions says how DiffInputs compares.
type DiffOptions struct {
	Replace func(key string) bool // which changed keys force a replacement; all other changes are updates
	Ignore  []string              // the resource's ignoreChanges
	// SecretsCount makes a change of secretness alone a change, as pulumi-go-provider's default diff does
	// (PropertyValue.DeepEquals compares secret wrappers). The bridged providers compare Terraform values,
	// which have no secrets, so for them it is no change.
	SecretsCount bool
}

// DiffInputs compares old and new inputs key by key. An unknown new value counts as a change, since it may
// differ. Internal keys ("__defaults") are never compared.
func DiffInputs(olds, news resource.PropertyMap, opts DiffOptions) *pulumirpc.DiffResponse {
	keys := map[resource.PropertyKey]bool{}
	for k := range olds {
		keys[k] = true
	}
	for k := range news {
		keys[k] = true
	}
	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
		HasDetailedDiff: true,
	}
	for k := range keys {
		name := string(k)
		if resource.IsInternalPropertyKey(k) || slices.Contains(opts.Ignore, name) {
			continue
		}
		o, n := olds[k], news[k]
		hasOld, hasNew := o.HasValue(), n.HasValue()
		if !n.ContainsUnknowns() && Comparable(o, opts.SecretsCount).DeepEquals(Comparable(n, opts.SecretsCount)) {
			continue
		}
		kind := pulumirpc.PropertyDiff_UPDATE
		switch {
		case !hasOld && hasNew:
			kind = pulumirpc.PropertyDiff_ADD
		case hasOld && !hasNew:
			kind = pulumirpc.PropertyDiff_DELETE
		case !hasOld && !hasNew:
			continue
		}
		if opts.Replace != nil && opts.Replace(name) {
			kind++ // each *_REPLACE kind directly follows its plain kind in the enum
			resp.Replaces = append(resp.Replaces, name)
		}
		resp.Diffs = append(resp.Diffs, name)
		resp.DetailedDiff[name] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	if len(resp.Diffs) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	sort.Strings(resp.Diffs)
	sort.Strings(resp.Replaces)
	return resp
}

// GetString returns a known string input (secret or not) or "" and false.
func GetString(pm resource.PropertyMap, key string) (string, bool) {
	v := Plain(pm[resource.PropertyKey(key)])
	if v.IsString() {
		return v.StringValue(), true
	}
	return "", false
}

// GetBool returns a known boolean input or def.
func GetBool(pm resource.PropertyMap, key string, def bool) bool {
	v := Plain(pm[resource.PropertyKey(key)])
	if v.IsBool() {
		return v.BoolValue()
	}
	return def
}

// GetInt returns a known number input as an integer or def.
func GetInt(pm resource.PropertyMap, key string, def int64) int64 {
	v := Plain(pm[resource.PropertyKey(key)])
	if v.IsNumber() {
		return int64(v.NumberValue())
	}
	return def
}

// IsSecret says whether the input's value is secret (wholly or in part).
func IsSecret(pm resource.PropertyMap, key string) bool {
	return pm[resource.PropertyKey(key)].ContainsSecrets()
}

// SetDefault sets key to v when it is absent or null. It never touches unknown values.
func SetDefault(pm resource.PropertyMap, key string, v resource.PropertyValue) {
	if cur, ok := pm[resource.PropertyKey(key)]; !ok || cur.IsNull() {
		pm[resource.PropertyKey(key)] = v
	}
}

func sortedKeys(spec Spec) []string {
	keys := make([]string, 0, len(spec))
	for k := range spec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
