package hcloud

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"mailstack/toolchain/providers/internal/base"
	"mailstack/toolchain/providers/internal/basetest"
)

// testToken is a well-formed (64 characters) token that only the fake API knows.
var testToken = strings.Repeat("t0K3n", 12) + "abcd"

func urnOf(typ, name string) string { return "urn:pulumi:dev::proj::" + typ + "::" + name }

// harness drives one provider against one fake API, as the engine would.
type harness struct {
	t   *testing.T
	p   *Provider
	api *fakeAPI
	log basetest.Log
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, api: newFakeAPI(t, testToken)}
	h.p = New(nil)
	h.p.Logger = h.log.Logger
	h.configure(map[string]any{"token": resource.MakeSecret(resource.NewStringProperty(testToken)),
		"endpoint": h.api.srv.URL, "pollInterval": "1ms"})
	t.Cleanup(func() {
		for _, l := range h.log.Lines() {
			if strings.Contains(l, testToken) {
				t.Errorf("the token was logged: %s", l)
			}
		}
	})
	return h
}

func (h *harness) configure(args map[string]any) error {
	h.t.Helper()
	_, err := h.p.Configure(context.Background(), &pulumirpc.ConfigureRequest{Args: h.marshal(props(args)), AcceptSecrets: true})
	return err
}

func (h *harness) marshal(pm resource.PropertyMap) *structpb.Struct { return basetest.Marshal(h.t, pm) }

func (h *harness) unmarshal(s *structpb.Struct) resource.PropertyMap {
	return basetest.Unmarshal(h.t, s)
}

// props builds a property map from Go values; resource.PropertyValue values are taken as they are.
func props(m map[string]any) resource.PropertyMap {
	pm := resource.PropertyMap{}
	for k, v := range m {
		if pv, ok := v.(resource.PropertyValue); ok {
			pm[resource.PropertyKey(k)] = pv
		} else {
			pm[resource.PropertyKey(k)] = resource.NewPropertyValue(v)
		}
	}
	return pm
}

// check runs Check and returns the checked inputs and the failures' "property: reason".
func (h *harness) check(urn string, news, olds resource.PropertyMap) (resource.PropertyMap, []string) {
	h.t.Helper()
	req := &pulumirpc.CheckRequest{Urn: urn, News: h.marshal(news), RandomSeed: []byte("seed")}
	if olds != nil {
		req.Olds = h.marshal(olds)
	}
	resp, err := h.p.Check(context.Background(), req)
	if err != nil {
		h.t.Fatal(err)
	}
	var failures []string
	for _, f := range resp.GetFailures() {
		failures = append(failures, f.GetProperty()+": "+f.GetReason())
	}
	return h.unmarshal(resp.GetInputs()), failures
}

// mustCheck is check without failures.
func (h *harness) mustCheck(urn string, news resource.PropertyMap) resource.PropertyMap {
	h.t.Helper()
	in, failures := h.check(urn, news, nil)
	if len(failures) > 0 {
		h.t.Fatalf("Check failed: %v", failures)
	}
	return in
}

func (h *harness) create(urn string, inputs resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	h.t.Helper()
	resp, err := h.p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: urn, Properties: h.marshal(inputs), Preview: preview})
	if err != nil {
		return "", nil, err
	}
	return resp.GetId(), h.unmarshal(resp.GetProperties()), nil
}

func (h *harness) mustCreate(urn string, inputs resource.PropertyMap) (string, resource.PropertyMap) {
	h.t.Helper()
	id, outs, err := h.create(urn, inputs, false)
	if err != nil {
		h.t.Fatalf("Create %s: %v", urn, err)
	}
	return id, outs
}

func (h *harness) diff(urn, id string, olds, state, news resource.PropertyMap) *pulumirpc.DiffResponse {
	h.t.Helper()
	resp, err := h.p.Diff(context.Background(), &pulumirpc.DiffRequest{Urn: urn, Id: id, OldInputs: h.marshal(olds),
		Olds: h.marshal(state), News: h.marshal(news)})
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func (h *harness) update(urn, id string, olds, state, news resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	h.t.Helper()
	resp, err := h.p.Update(context.Background(), &pulumirpc.UpdateRequest{Urn: urn, Id: id, OldInputs: h.marshal(olds),
		Olds: h.marshal(state), News: h.marshal(news), Preview: preview})
	if err != nil {
		return nil, err
	}
	return h.unmarshal(resp.GetProperties()), nil
}

func (h *harness) mustUpdate(urn, id string, olds, state, news resource.PropertyMap) resource.PropertyMap {
	h.t.Helper()
	outs, err := h.update(urn, id, olds, state, news, false)
	if err != nil {
		h.t.Fatalf("Update %s: %v", urn, err)
	}
	return outs
}

// read returns the new ID (empty: gone), outputs and inputs.
func (h *harness) read(urn, id string, state, inputs resource.PropertyMap) (string, resource.PropertyMap, resource.PropertyMap) {
	h.t.Helper()
	req := &pulumirpc.ReadRequest{Urn: urn, Id: id, Properties: h.marshal(state)}
	if inputs != nil {
		req.Inputs = h.marshal(inputs)
	}
	resp, err := h.p.Read(context.Background(), req)
	if err != nil {
		h.t.Fatalf("Read %s: %v", urn, err)
	}
	return resp.GetId(), h.unmarshal(resp.GetProperties()), h.unmarshal(resp.GetInputs())
}

func (h *harness) delete(urn, id string, state resource.PropertyMap) error {
	h.t.Helper()
	_, err := h.p.Delete(context.Background(), &pulumirpc.DeleteRequest{Urn: urn, Id: id, Properties: h.marshal(state)})
	return err
}

func (h *harness) mustDelete(urn, id string, state resource.PropertyMap) {
	h.t.Helper()
	if err := h.delete(urn, id, state); err != nil {
		h.t.Fatalf("Delete %s: %v", urn, err)
	}
}

// --- assertions -------------------------------------------------------------------------------------------------

func get(pm resource.PropertyMap, key string) resource.PropertyValue {
	return base.Plain(pm[resource.PropertyKey(key)])
}

func wantString(t *testing.T, pm resource.PropertyMap, key, want string) {
	t.Helper()
	if v := get(pm, key); !v.IsString() || v.StringValue() != want {
		t.Errorf("%s = %v, want %q", key, v, want)
	}
}

func wantUnknown(t *testing.T, pm resource.PropertyMap, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if !pm[resource.PropertyKey(k)].ContainsUnknowns() {
			t.Errorf("%s = %v, want unknown", k, pm[resource.PropertyKey(k)])
		}
	}
}

// wantDiff checks a diff: which keys change and which of them replace.
func wantDiff(t *testing.T, what string, d *pulumirpc.DiffResponse, diffs, replaces []string, deleteFirst bool) {
	t.Helper()
	if strings.Join(d.GetDiffs(), ",") != strings.Join(diffs, ",") {
		t.Errorf("%s: diffs %v, want %v", what, d.GetDiffs(), diffs)
	}
	if strings.Join(d.GetReplaces(), ",") != strings.Join(replaces, ",") {
		t.Errorf("%s: replaces %v, want %v", what, d.GetReplaces(), replaces)
	}
	if len(diffs) == 0 && d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("%s: changes %v, want none", what, d.GetChanges())
	}
	if len(replaces) > 0 && d.GetDeleteBeforeReplace() != deleteFirst {
		t.Errorf("%s: deleteBeforeReplace %v, want %v", what, d.GetDeleteBeforeReplace(), deleteFirst)
	}
}

// wantBody checks JSON fields of a request body (numbers as float64, as JSON decodes them).
// change is one input changed to v, and what Diff must say about it.
type change struct {
	key         string
	v           any
	replace     bool
	deleteFirst bool
}

// wantChanges diffs each change alone against the inputs in.
func (h *harness) wantChanges(urn, id string, in, outs resource.PropertyMap, changes []change) {
	h.t.Helper()
	for _, c := range changes {
		news := in.Copy()
		news[resource.PropertyKey(c.key)] = resource.NewPropertyValue(c.v)
		var replaces []string
		if c.replace {
			replaces = []string{c.key}
		}
		wantDiff(h.t, c.key, h.diff(urn, id, in, outs, news), []string{c.key}, replaces, c.deleteFirst)
	}
}

func wantBody(t *testing.T, what string, body map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := body[k]
		if !ok {
			t.Errorf("%s: body has no %q: %v", what, k, body)
			continue
		}
		if !resource.NewPropertyValue(got).DeepEquals(resource.NewPropertyValue(w)) {
			t.Errorf("%s: %s = %#v, want %#v", what, k, got, w)
		}
	}
}

func wantCalls(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: API calls\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// errMessage is the message of a gRPC error, or of any error.
func errMessage(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}
