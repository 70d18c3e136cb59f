package hcloud

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

func TestPluginInfo(t *testing.T) {
	info, err := New(nil).GetPluginInfo(context.Background(), &emptypb.Empty{})
	if err != nil || info.GetVersion() != "1.41.0" {
		t.Fatalf("version %q, %v; want 1.41.0 (the npm SDK's)", info.GetVersion(), err)
	}
}

func TestParseConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	other := strings.Repeat("e", 64)

	cfg, err := parseConfig(props(map[string]any{"token": testToken}), env(map[string]string{"HCLOUD_TOKEN": other}))
	if err != nil || cfg.token != testToken {
		t.Errorf("hcloud:token must win over HCLOUD_TOKEN: %v", err)
	}
	cfg, err = parseConfig(props(map[string]any{}), env(map[string]string{"HCLOUD_TOKEN": other, "HCLOUD_ENDPOINT": "http://x"}))
	if err != nil || cfg.token != other || cfg.endpoint != "http://x" {
		t.Errorf("HCLOUD_TOKEN/HCLOUD_ENDPOINT when the config has none: %+v %v", cfg.endpoint, err)
	}
	if cfg.pollInterval != 500*time.Millisecond || cfg.pollFunction != "exponential" {
		t.Errorf("defaults: %v %s", cfg.pollInterval, cfg.pollFunction)
	}
	cfg, err = parseConfig(props(map[string]any{"token": resource.MakeSecret(resource.NewStringProperty(testToken)),
		"endpoint": "http://127.0.0.1:1/v1", "pollInterval": "2s", "pollFunction": "constant"}), env(nil))
	if err != nil || cfg.token != testToken || cfg.endpoint != "http://127.0.0.1:1/v1" || cfg.pollInterval != 2*time.Second ||
		cfg.pollFunction != "constant" {
		t.Errorf("explicit config: %v", err)
	}
	cfg, err = parseConfig(props(map[string]any{"token": resource.MakeComputed(resource.NewStringProperty(""))}), env(nil))
	if err != nil || !cfg.tokenUnknown {
		t.Errorf("an unknown token must be accepted (preview): %v", err)
	}
	if cfg, err = parseConfig(props(map[string]any{}), env(nil)); err != nil || cfg.token != "" {
		t.Errorf("no token at all must be accepted by Configure: %v", err)
	}

	secret := "s3cr3t-too-short"
	_, err = parseConfig(props(map[string]any{"token": secret}), env(nil))
	if err == nil || !strings.Contains(err.Error(), "64 characters") || strings.Contains(err.Error(), secret) {
		t.Errorf("a token of the wrong length must fail without showing it: %v", err)
	}
	if _, err := parseConfig(props(map[string]any{"pollInterval": "soon"}), env(nil)); err == nil {
		t.Error("a bad pollInterval must fail")
	}
}

func TestCheckConfig(t *testing.T) {
	h := newHarness(t)
	resp, err := h.p.CheckConfig(context.Background(), &pulumirpc.CheckRequest{
		Urn:  "urn:pulumi:dev::proj::pulumi:providers:hcloud::default",
		News: h.marshal(props(map[string]any{"token": testToken, "version": "1.41.0", "pollFunction": "sometimes"})),
	})
	if err != nil {
		t.Fatal(err)
	}
	in := h.unmarshal(resp.GetInputs())
	if !in["token"].IsSecret() {
		t.Errorf("the token must come back secret: %v", in["token"])
	}
	if len(resp.GetFailures()) != 1 || resp.GetFailures()[0].GetProperty() != "pollFunction" {
		t.Errorf("failures %v, want one for pollFunction", resp.GetFailures())
	}
}

// Without a token, Configure and previews work; anything that needs the API fails, naming both ways to set one,
// and nothing reaches the API.
func TestMissingToken(t *testing.T) {
	t.Setenv("HCLOUD_TOKEN", "")
	h := newHarness(t)
	if err := h.configure(map[string]any{"endpoint": h.api.srv.URL}); err != nil {
		t.Fatalf("Configure without a token: %v", err)
	}
	urn := urnOf(sshKeyType, "key")
	in := h.mustCheck(urn, props(map[string]any{"name": "k", "publicKey": "ssh-ed25519 AAAA x"}))
	if _, _, err := h.create(urn, in, true); err != nil {
		t.Fatalf("a preview without a token: %v", err)
	}
	_, _, err := h.create(urn, in, false)
	if err == nil || !strings.Contains(err.Error(), "hcloud:token") || !strings.Contains(err.Error(), "HCLOUD_TOKEN") {
		t.Fatalf("create without a token: %v", err)
	}
	if err := h.delete(urn, "1", in); err == nil || !strings.Contains(err.Error(), "HCLOUD_TOKEN") {
		t.Fatalf("delete without a token: %v", err)
	}
	if calls := h.api.reqs(); len(calls) > 0 {
		t.Fatalf("requests without a token: %v", calls)
	}

	// From the environment, as scripts/run passes it.
	t.Setenv("HCLOUD_TOKEN", testToken)
	if err := h.configure(map[string]any{"endpoint": h.api.srv.URL, "pollInterval": "1ms"}); err != nil {
		t.Fatal(err)
	}
	h.mustCreate(urn, in)
	if r := h.api.reqs(); len(r) == 0 || r[0].Auth != "Bearer "+testToken {
		t.Fatalf("HCLOUD_TOKEN not used: %v", r)
	}
}

func TestWrongTokenIsTheAPIsError(t *testing.T) {
	h := newHarness(t)
	if err := h.configure(map[string]any{"token": strings.Repeat("w", 64), "endpoint": h.api.srv.URL}); err != nil {
		t.Fatal(err)
	}
	urn := urnOf(sshKeyType, "key")
	_, _, err := h.create(urn, h.mustCheck(urn, props(map[string]any{"publicKey": "ssh-ed25519 AAAA x"})), false)
	if err == nil || !strings.Contains(err.Error(), "unauthorized") || strings.Contains(err.Error(), strings.Repeat("w", 64)) {
		t.Fatalf("want the API's unauthorized error, without the token: %v", err)
	}
}

func TestUnknownType(t *testing.T) {
	h := newHarness(t)
	_, err := h.p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urnOf("hcloud:index/floatingIp:FloatingIp", "v"),
		News: h.marshal(resource.PropertyMap{})})
	if err == nil || !strings.Contains(err.Error(), "hcloud:index/floatingIp:FloatingIp") {
		t.Fatalf("an unimplemented type must fail clearly: %v", err)
	}
}

// A preview of the whole mailstack stack, created and then changed, never makes an HTTP request, and the
// computed outputs are unknown.
func TestPreviewMakesNoRequest(t *testing.T) {
	h := newHarness(t)
	u := unknown()
	cases := []struct {
		typ      string
		news     map[string]any
		computed []string
	}{
		{sshKeyType, map[string]any{"name": "mail.example.org", "publicKey": "ssh-ed25519 AAAA admin"}, []string{"fingerprint"}},
		{primaryIPType, map[string]any{"name": "mail-ipv4", "type": "ipv4", "assigneeType": "server",
			"location": "nbg1", "autoDelete": false}, []string{"ipAddress", "assigneeId"}},
		{serverType, map[string]any{"name": "mail", "serverType": "cx22", "image": "debian-12", "location": "nbg1",
			"sshKeys": []resource.PropertyValue{u}, "publicNets": []any{map[string]any{"ipv4Enabled": true, "ipv4": u,
				"ipv6Enabled": true}}}, []string{"ipv4Address", "ipv6Address", "status"}},
		{rdnsType, map[string]any{"primaryIpId": u, "ipAddress": u, "dnsPtr": "mail.example.org"}, nil},
		{firewallType, map[string]any{"name": "mail", "rules": []any{map[string]any{"direction": "in", "protocol": "tcp",
			"port": "25", "sourceIps": []any{"0.0.0.0/0", "::/0"}}}}, []string{"applyTos"}},
		{firewallAttachmentType, map[string]any{"firewallId": u, "serverIds": []resource.PropertyValue{u}}, nil},
	}
	for _, c := range cases {
		urn := urnOf(c.typ, "mail")
		in := h.mustCheck(urn, props(c.news))
		id, outs, err := h.create(urn, in, true)
		if err != nil {
			t.Fatalf("%s: preview create: %v", c.typ, err)
		}
		if id != "" {
			t.Errorf("%s: a preview has no ID, got %q", c.typ, id)
		}
		wantUnknown(t, outs, c.computed...)
	}

	// A preview of changes: Diff and Update(preview) of a server whose primary IP is being replaced.
	urn := urnOf(serverType, "mail")
	olds := h.mustCheck(urn, props(map[string]any{"name": "mail", "serverType": "cx22", "image": "debian-12",
		"location": "nbg1", "sshKeys": []any{"7"}, "publicNets": []any{map[string]any{"ipv4": 5}}}))
	state := olds.Copy()
	state["ipv4Address"], state["status"] = strV("203.0.113.5"), strV("running")
	news := olds.Copy()
	news["publicNets"] = resource.NewPropertyValue([]any{map[string]any{"ipv4Enabled": true, "ipv4": u, "ipv6Enabled": true}})
	news["serverType"] = strV("cx32")
	wantDiff(t, "new primary IP and type", h.diff(urn, "9", olds, state, news), []string{"publicNets", "serverType"}, nil, false)
	outs, err := h.update(urn, "9", olds, state, news, true)
	if err != nil {
		t.Fatal(err)
	}
	wantUnknown(t, outs, "ipv4Address")
	wantString(t, outs, "status", "running")

	// A preview of an update whose inputs are all known (a resize, a new PTR) does not call the API either.
	known := olds.Copy()
	known["serverType"] = strV("cx32")
	if _, err := h.update(urn, "9", olds, state, known, true); err != nil {
		t.Fatal(err)
	}
	rurn := urnOf(rdnsType, "ptr")
	rin := h.mustCheck(rurn, props(map[string]any{"primaryIpId": 5, "ipAddress": "203.0.113.5", "dnsPtr": "a.example"}))
	rnew := rin.Copy()
	rnew["dnsPtr"] = strV("b.example")
	if outs, err := h.update(rurn, "p-5-203.0.113.5", rin, rin, rnew, true); err != nil || !outs.DeepEquals(rnew) {
		t.Fatalf("preview of a PTR update: %v %v", outs, err)
	}

	if r := h.api.reqs(); len(r) > 0 {
		t.Fatalf("a preview made %d requests: %v", len(r), h.api.calls())
	}
}

func TestCheckFailures(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		typ  string
		news map[string]any
		want []string // substrings of the failures, one each
	}{
		{sshKeyType, map[string]any{"name": 3}, []string{"missing required property 'publicKey'", "'name' must be a string"}},
		{sshKeyType, map[string]any{"publicKey": "k", "labels": map[string]any{"bad key!": "x"}, "extra": 1},
			[]string{"labels", "unknown property 'extra'"}},
		{primaryIPType, map[string]any{"type": "ipv5", "location": "nbg1"}, []string{"'type' must be one of"}},
		{primaryIPType, map[string]any{"type": "ipv4"}, []string{"'location' is required"}},
		// terraform-provider-hcloud v1.67.0 (bridged by @pulumi/hcloud 1.41.0): datacenter is a removed attribute.
		{primaryIPType, map[string]any{"type": "ipv4", "location": "nbg1", "datacenter": "nbg1-dc3"},
			[]string{"Removed Attribute: 'datacenter'"}},
		{primaryIPType, map[string]any{"type": "ipv4", "location": "nbg1", "assigneeId": 5, "deleteProtection": true},
			[]string{"'assigneeId' is not supported", "'deleteProtection' is not supported"}},
		{serverType, map[string]any{"image": "debian-12"}, []string{"missing required property 'serverType'"}},
		{serverType, map[string]any{"serverType": "cx22"}, []string{"missing required property 'image'"}},
		{serverType, map[string]any{"serverType": "cx22", "image": "debian-12", "backups": true, "datacenter": "nbg1-dc3"},
			[]string{"'backups' is not supported", "use 'location'"}},
		{serverType, map[string]any{"serverType": "cx22", "image": "debian-12", "sshKeys": []any{""},
			"publicNets": []any{map[string]any{"ipv4Enabled": true}, map[string]any{"ipv6Enabled": true}}},
			[]string{"'sshKeys[0]' is empty", "'publicNets' takes at most one entry"}},
		{serverType, map[string]any{"serverType": "cx22", "image": "debian-12", "publicNets": []any{map[string]any{"ipv4": 1.5}}},
			[]string{"'publicNets[0].ipv4' must be an integer"}},
		// Upstream's docs: rebuild_protection "Needs to be the same as delete_protection".
		{serverType, map[string]any{"serverType": "cx22", "image": "debian-12", "deleteProtection": true, "rebuildProtection": false},
			[]string{"'rebuildProtection' must be the same as 'deleteProtection'"}},
		{volumeType, map[string]any{"name": "v", "size": 10.5}, []string{"'size' must be an integer", "one of 'location' or 'serverId'"}},
		{volumeAttachmentType, map[string]any{"volumeId": 1}, []string{"missing required property 'serverId'"}},
		{rdnsType, map[string]any{"ipAddress": "1.2.3.4", "dnsPtr": "x"}, []string{"exactly one of 'primaryIpId' or 'serverId'"}},
		{rdnsType, map[string]any{"primaryIpId": 1, "serverId": 2, "ipAddress": "no", "dnsPtr": "x"},
			[]string{"exactly one of", "must be an IPv4 or IPv6 address"}},
		{rdnsType, map[string]any{"floatingIpId": 1, "ipAddress": "1.2.3.4"},
			[]string{"missing required property 'dnsPtr'", "'floatingIpId' is not supported", "exactly one of"}},
		{firewallType, map[string]any{"rules": []any{
			map[string]any{"direction": "in", "protocol": "tcp", "sourceIps": []any{"0.0.0.0/0"}},
			map[string]any{"direction": "in", "protocol": "icmp", "port": "1", "sourceIps": []any{"::/0"}},
			map[string]any{"direction": "in", "protocol": "udp", "port": "53"},
			map[string]any{"direction": "out", "protocol": "tcp", "port": "x", "destinationIps": []any{"10.0.0.1/8"}},
			map[string]any{"direction": "sideways", "protocol": "tcp", "port": "1", "sourceIps": []any{"1.1.1.1"}},
		}}, []string{"'rules[0].port' is required for tcp", "'rules[1].port' must not be set", "'rules[2].sourceIps' is required",
			"must be a port", "has host bits set", "'rules[4].direction' must be one of"}},
		{firewallType, map[string]any{"applyTos": []any{map[string]any{"server": 1}}}, []string{"'applyTos' is not supported"}},
		{firewallAttachmentType, map[string]any{"serverIds": []any{1}}, []string{"missing required property 'firewallId'"}},
		{firewallAttachmentType, map[string]any{"firewallId": 1, "serverIds": []any{}},
			[]string{"at least one of 'serverIds' or 'labelSelectors'"}},
		{firewallAttachmentType, map[string]any{"firewallId": 1, "serverIds": []any{"x"}}, []string{"'serverIds[0]' must be an integer ID"}},
	}
	for _, c := range cases {
		_, failures := h.check(urnOf(c.typ, "x"), props(c.news), nil)
		if len(failures) != len(c.want) {
			t.Errorf("%s %v: failures %q, want %d: %q", c.typ, c.news, failures, len(c.want), c.want)
			continue
		}
		for _, w := range c.want {
			found := false
			for _, f := range failures {
				found = found || strings.Contains(f, w)
			}
			if !found {
				t.Errorf("%s %v: no failure says %q: %q", c.typ, c.news, w, failures)
			}
		}
	}
	if len(h.api.reqs()) > 0 {
		t.Fatal("Check made requests")
	}
}

func TestAutoname(t *testing.T) {
	h := newHarness(t)
	urn := urnOf(firewallType, "fw")
	in := h.mustCheck(urn, props(map[string]any{}))
	name := get(in, "name").StringValue()
	if !strings.HasPrefix(name, "fw-") || len(name) != len("fw-")+7 {
		t.Fatalf("autoname %q, want fw-XXXXXXX", name)
	}
	again, _ := h.check(urn, props(map[string]any{"labels": map[string]any{"a": "b"}}), in)
	wantString(t, again, "name", name) // kept from the old inputs
	given := h.mustCheck(urn, props(map[string]any{"name": "mine"}))
	wantString(t, given, "name", "mine")
	// An SDKv2 resource records the autoname in __defaults, as the bridge's Check does (pkg/tfbridge/schema.go):
	// it is what makes a replacement of an autonamed resource create the new one first.
	if d := get(in, "__defaults"); !d.DeepEquals(resource.NewPropertyValue([]any{"name"})) {
		t.Errorf("__defaults of an autonamed firewall: %v", d)
	}
	if d := get(given, "__defaults"); !d.IsArray() || len(d.ArrayValue()) != 0 {
		t.Errorf("__defaults of a named firewall: %v", d)
	}
}

// The bridge warns about assigneeType without assigneeId (terraform-provider-hcloud v1.66.1+ ValidateConfig),
// on every preview and up; mailstack's program must not set it.
func TestPrimaryIPAssigneeTypeWarning(t *testing.T) {
	h := newHarness(t)
	urn := urnOf(primaryIPType, "ip")
	h.mustCheck(urn, props(map[string]any{"type": "ipv4", "location": "nbg1", "assigneeType": "server"}))
	if logs := h.log.Lines(); len(logs) != 1 || !strings.Contains(logs[0], "warning: Unused Attribute") {
		t.Fatalf("logs %q, want one Unused Attribute warning", logs)
	}
	h.log.Reset()
	h.mustCheck(urn, props(map[string]any{"type": "ipv4", "location": "nbg1"}))
	if logs := h.log.Lines(); len(logs) != 0 {
		t.Fatalf("logs %q without assigneeType", logs)
	}
}
