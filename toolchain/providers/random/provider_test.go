package random

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"

	"mailstack/toolchain/providers/internal/base"
	"mailstack/toolchain/providers/internal/basetest"
)

const (
	passwordURN = "urn:pulumi:dev::proj::random:index/randomPassword:RandomPassword::pw"
	stringURN   = "urn:pulumi:dev::proj::random:index/randomString:RandomString::s"
)

var marshal, unmarshal = basetest.Marshal, basetest.Unmarshal

func check(t *testing.T, p *Provider, urn string, news map[string]any) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	t.Helper()
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urn, News: marshal(t, resource.NewPropertyMapFromMap(news))})
	if err != nil {
		t.Fatal(err)
	}
	return unmarshal(t, resp.Inputs), resp.Failures
}

func countIn(s, chars string) int {
	n := 0
	for _, c := range s {
		if strings.ContainsRune(chars, c) {
			n++
		}
	}
	return n
}

func TestGenerate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       params
		allowed string
	}{
		{"mailstack", params{length: 24, upper: true, lower: true, numeric: true}, upperChars + lowerChars + numericChars},
		{"all", params{length: 40, upper: true, lower: true, numeric: true, special: true},
			upperChars + lowerChars + numericChars + defaultSpecialChars},
		{"override", params{length: 30, lower: true, special: true, overrideSpecial: "-_"}, lowerChars + "-_"},
		{"minimums", params{length: 8, lower: true, minUpper: 2, minNumeric: 3, minSpecial: 1},
			upperChars + lowerChars + numericChars + defaultSpecialChars},
		{"numbers only", params{length: 6, numeric: true}, numericChars},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 50 {
				s, err := generate(tc.p)
				if err != nil {
					t.Fatal(err)
				}
				if len(s) != tc.p.length {
					t.Fatalf("length %d, want %d: %q", len(s), tc.p.length, s)
				}
				if countIn(s, tc.allowed) != len(s) {
					t.Fatalf("%q has characters outside %q", s, tc.allowed)
				}
				special := defaultSpecialChars
				if tc.p.overrideSpecial != "" {
					special = tc.p.overrideSpecial
				}
				if countIn(s, upperChars) < tc.p.minUpper || countIn(s, lowerChars) < tc.p.minLower ||
					countIn(s, numericChars) < tc.p.minNumeric || countIn(s, special) < tc.p.minSpecial {
					t.Fatalf("%q misses a minimum of %+v", s, tc.p)
				}
			}
		})
	}
	// Every enabled class shows up over many draws, and the guaranteed characters are shuffled, not in front.
	seenFirst := map[bool]int{}
	for range 200 {
		s, _ := generate(params{length: 4, lower: true, minUpper: 1})
		seenFirst[strings.ContainsRune(upperChars, rune(s[0]))]++
	}
	if seenFirst[false] == 0 || seenFirst[true] == 0 {
		t.Fatalf("not shuffled: %v", seenFirst)
	}
	if _, err := generate(params{length: 3, minUpper: 2, minLower: 2}); err == nil {
		t.Fatal("want an error when the minimums exceed the length")
	}
	if _, err := generate(params{length: 3}); err == nil {
		t.Fatal("want an error when no class is enabled")
	}
}

func TestPasswordLifecycle(t *testing.T) {
	p := New(nil)
	given := map[string]any{"length": 24, "special": false}
	in, failures := check(t, p, passwordURN, given)
	if len(failures) > 0 {
		t.Fatal(failures)
	}
	// The bridge's Plugin Framework Check stores the inputs as given (pulumi-terraform-bridge
	// pkg/pf/tfbridge/provider_check.go); Terraform's defaults (internal/provider/resource_password.go: upper,
	// lower, numeric, number true; min_* 0) are in the state only.
	if !in.DeepEquals(resource.NewPropertyMapFromMap(given)) {
		t.Fatalf("Check changed the inputs: %v", in)
	}

	// Preview: result and hash unknown.
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: passwordURN, Properties: marshal(t, in), Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if outs := unmarshal(t, resp.Properties); !outs["result"].ContainsUnknowns() || !outs["bcryptHash"].ContainsUnknowns() {
		t.Fatalf("preview: %v", outs)
	}

	resp, err = p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: passwordURN, Properties: marshal(t, in)})
	if err != nil {
		t.Fatal(err)
	}
	outs := unmarshal(t, resp.Properties)
	if !outs["result"].IsSecret() || !outs["bcryptHash"].IsSecret() {
		t.Fatal("result and bcryptHash must be secret")
	}
	for _, k := range []string{"upper", "lower", "numeric", "number"} {
		if !base.GetBool(outs, k, false) {
			t.Fatalf("the state must hold %s = true: %v", k, outs)
		}
	}
	if base.GetBool(outs, "special", true) || base.GetInt(outs, "minSpecial", -1) != 0 {
		t.Fatalf("state defaults: %v", outs)
	}
	result, _ := base.GetString(outs, "result")
	hash, _ := base.GetString(outs, "bcryptHash")
	if len(result) != 24 || countIn(result, defaultSpecialChars) != 0 || resp.Id == result {
		t.Fatalf("result %q, id %q", result, resp.Id)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(result)) != nil {
		t.Fatal("bcryptHash does not verify")
	}
	if cost, _ := bcrypt.Cost([]byte(hash)); cost != bcrypt.DefaultCost {
		t.Fatalf("cost %d", cost)
	}

	// Read keeps the state.
	read, err := p.Read(context.Background(), &pulumirpc.ReadRequest{Id: resp.Id, Urn: passwordURN, Properties: resp.Properties})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := base.GetString(unmarshal(t, read.Properties), "result"); r != result {
		t.Fatal("read changed the result")
	}

	// Diff: nothing, or a replacement.
	diff := func(news resource.PropertyMap) *pulumirpc.DiffResponse {
		d, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{Urn: passwordURN, Olds: resp.Properties, News: marshal(t, news)})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := diff(in); d.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("same inputs: %v", d)
	}
	// Inputs stored with the defaults spelt out (as earlier stand-ins did) are the same inputs: no replacement.
	spelt := in.Copy()
	spelt["upper"], spelt["minUpper"] = resource.NewBoolProperty(true), resource.NewNumberProperty(0)
	if d := diff(spelt); d.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("defaults spelt out: %v", d)
	}
	// keepers only replace when a changed value is not null (RequiresReplaceIfValuesNotNull), overrideSpecial not
	// between "" and unset (RequiresReplaceUnlessEmptyStringToNull): updates, which keep the value.
	for _, soft := range []map[string]any{
		{"length": 24, "special": false, "keepers": map[string]any{}},
		{"length": 24, "special": false, "overrideSpecial": ""},
	} {
		news, _ := check(t, p, passwordURN, soft)
		if d := diff(news); len(d.Replaces) != 0 {
			t.Fatalf("%v: want no replacement, got %v", soft, d)
		}
	}
	for _, change := range []map[string]any{
		{"length": 25, "special": false},
		{"length": 24, "special": true},
		{"length": 24, "special": false, "keepers": map[string]any{"user": "a"}},
	} {
		news, _ := check(t, p, passwordURN, change)
		if d := diff(news); d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) == 0 {
			t.Fatalf("%v: want a replacement, got %v", change, d)
		}
	}
}

func TestCheckFailures(t *testing.T) {
	p := New(nil)
	for _, tc := range []struct {
		news   map[string]any
		failOn string
	}{
		{map[string]any{}, "length"},
		{map[string]any{"length": 0}, "length"},
		{map[string]any{"length": "24"}, "length"},
		{map[string]any{"length": 2, "minUpper": 2, "minLower": 1}, "length"},
		{map[string]any{"length": 8, "special": "no"}, "special"},
		{map[string]any{"length": 8, "minLower": -1}, "minLower"},
	} {
		_, failures := check(t, p, passwordURN, tc.news)
		if len(failures) != 1 || failures[0].Property != tc.failOn {
			t.Errorf("%v: want one failure on %s, got %v", tc.news, tc.failOn, failures)
		}
	}
	// The deprecated `number` sets numeric when numeric is not given: in the state, not in the inputs.
	in, _ := check(t, p, passwordURN, map[string]any{"length": 8, "number": false})
	if _, ok := in["numeric"]; ok {
		t.Fatal("numeric stored in the inputs")
	}
	if base.GetBool(withDefaults(in), "numeric", true) {
		t.Fatal("number=false must carry over to numeric")
	}
}

func TestRandomString(t *testing.T) {
	p := New(nil)
	in, _ := check(t, p, stringURN, map[string]any{"length": 12, "special": false, "upper": false})
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: stringURN, Properties: marshal(t, in)})
	if err != nil {
		t.Fatal(err)
	}
	outs := unmarshal(t, resp.Properties)
	if outs["result"].IsSecret() {
		t.Fatal("RandomString's result is not secret")
	}
	r, _ := base.GetString(outs, "result")
	if len(r) != 12 || countIn(r, lowerChars+numericChars) != 12 || resp.Id != r {
		t.Fatalf("result %q id %q", r, resp.Id)
	}
	if _, ok := outs["bcryptHash"]; ok {
		t.Fatal("RandomString has no bcryptHash")
	}
}
