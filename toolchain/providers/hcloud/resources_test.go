package hcloud

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/status"
)

const pubKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderReplaceWithYourOwnPublicKey00000 admin@example"

var numericID = regexp.MustCompile(`^[1-9][0-9]*$`)

func wantNumericID(t *testing.T, what, id string) {
	t.Helper()
	if !numericID.MatchString(id) {
		t.Fatalf("%s ID %q is not a numeric string", what, id)
	}
}

func TestSSHKey(t *testing.T) {
	h := newHarness(t)
	urn := urnOf(sshKeyType, "key")
	in := h.mustCheck(urn, props(map[string]any{"name": "mail.example.org", "publicKey": pubKey,
		"labels": map[string]any{"managed-by": "mailstack"}}))

	id, outs := h.mustCreate(urn, in)
	wantNumericID(t, "SSH key", id)
	r := h.api.reqs()[0]
	if r.Method != "POST" || r.Path != "/ssh_keys" || r.Auth != "Bearer "+testToken {
		t.Fatalf("first request %s %s, auth header set: %v", r.Method, r.Path, r.Auth != "")
	}
	wantBody(t, "create", r.Body, map[string]any{"name": "mail.example.org", "public_key": pubKey,
		"labels": map[string]any{"managed-by": "mailstack"}})
	if fp := get(outs, "fingerprint"); !fp.IsString() || strings.Count(fp.StringValue(), ":") != 15 {
		t.Errorf("fingerprint %v", fp)
	}

	// Read: unchanged; then a rename behind our back shows up in outputs and inputs.
	gotID, readOuts, readIns := h.read(urn, id, outs, in)
	if gotID != id || !readOuts.DeepEquals(outs) || !readIns.DeepEquals(in) {
		t.Errorf("read of an unchanged key: %s %v %v", gotID, readOuts, readIns)
	}
	h.api.mu.Lock()
	h.api.sshKeys[mustID(t, id)].Name = "renamed"
	h.api.mu.Unlock()
	_, readOuts, readIns = h.read(urn, id, outs, in)
	wantString(t, readOuts, "name", "renamed")
	wantString(t, readIns, "name", "renamed")

	// Diffs. terraform-provider-hcloud internal/sshkey/resource.go: public_key RequiresReplace, compared as
	// written (a trailing newline is a new key); a Plugin Framework resource, so the bridge creates the new key
	// before it deletes the old one (pulumi-terraform-bridge pkg/pf/tfbridge/provider_diff.go:
	// deleteBeforeReplace := false). A program whose key keeps its name sets deleteBeforeReplace itself.
	news := in.Copy()
	news["publicKey"] = strV(pubKey + "\n")
	wantDiff(t, "whitespace", h.diff(urn, id, in, outs, news), []string{"publicKey"}, []string{"publicKey"}, false)
	news["publicKey"] = strV("ssh-ed25519 AAAAother admin@example")
	wantDiff(t, "new key", h.diff(urn, id, in, outs, news), []string{"publicKey"}, []string{"publicKey"}, false)
	news = in.Copy()
	news["name"] = strV("mail2.example.org")
	news["labels"] = resource.NewPropertyValue(map[string]any{})
	wantDiff(t, "name and labels", h.diff(urn, id, in, outs, news), []string{"labels", "name"}, nil, false)

	// Update in place.
	h.api.reset()
	upd := h.mustUpdate(urn, id, in, outs, news)
	wantBody(t, "update", h.api.one("PUT", "/ssh_keys/"+id), map[string]any{"name": "mail2.example.org", "labels": map[string]any{}})
	wantString(t, upd, "name", "mail2.example.org")
	wantString(t, upd, "fingerprint", get(outs, "fingerprint").StringValue())

	// Delete; deleting or reading what is gone is no error.
	h.api.reset()
	h.mustDelete(urn, id, upd)
	wantCalls(t, "delete", h.api.calls(), []string{"DELETE /ssh_keys/" + id})
	h.mustDelete(urn, id, upd)
	if gotID, _, _ := h.read(urn, id, upd, news); gotID != "" {
		t.Errorf("read of a deleted key: ID %q, want none", gotID)
	}
}

func mustID(t *testing.T, id string) int64 {
	t.Helper()
	n, err := parseID("test", id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPrimaryIP(t *testing.T) {
	h := newHarness(t)
	urn := urnOf(primaryIPType, "ip")
	given := props(map[string]any{"name": "mail-ipv4", "type": "ipv4", "location": "nbg1",
		"labels": map[string]any{"managed-by": "mailstack"}})
	in := h.mustCheck(urn, given)
	// The bridge's Plugin Framework Check adds no Terraform defaults to the inputs
	// (pulumi-terraform-bridge pkg/pf/tfbridge/provider_check.go): what the program gave is what is stored.
	if !in.DeepEquals(given) {
		t.Errorf("Check changed the inputs: %v, given %v", in, given)
	}

	id, outs := h.mustCreate(urn, in)
	wantNumericID(t, "primary IP", id)
	wantBody(t, "create", h.api.one("POST", "/primary_ips"), map[string]any{"name": "mail-ipv4", "type": "ipv4",
		"assignee_type": "server", "auto_delete": false, "location": "nbg1", "labels": map[string]any{"managed-by": "mailstack"}})
	addr := get(outs, "ipAddress").StringValue()
	if !strings.HasPrefix(addr, "203.0.113.") {
		t.Errorf("ipAddress %q", addr)
	}
	wantString(t, outs, "location", "nbg1")
	wantString(t, outs, "assigneeType", "server")
	if v := get(outs, "autoDelete"); !v.IsBool() || v.BoolValue() {
		t.Errorf("autoDelete output %v, want false (the API's default)", v)
	}

	urn6 := urnOf(primaryIPType, "ip6")
	in6 := h.mustCheck(urn6, props(map[string]any{"name": "mail-ipv6", "type": "ipv6", "location": "fsn1"}))
	id6, outs6 := h.mustCreate(urn6, in6)
	wantString(t, outs6, "ipNetwork", fmt.Sprintf("2001:db8:%x::/64", mustID(t, id6)))

	// Diffs: the place and the type replace (internal/primaryip/resource.go: RequiresReplace), the new address
	// first (a Plugin Framework resource: the bridge never deletes first); the rest updates.
	for key, v := range map[string]any{"location": "fsn1", "type": "ipv6"} {
		news := in.Copy()
		news[resource.PropertyKey(key)] = resource.NewPropertyValue(v)
		wantDiff(t, key, h.diff(urn, id, in, outs, news), []string{key}, []string{key}, false)
	}
	news := in.Copy()
	news["name"], news["autoDelete"] = strV("mail-v4"), boolV(true)
	news["labels"] = resource.NewPropertyValue(map[string]any{"a": "b"})
	d := h.diff(urn, id, in, outs, news)
	wantDiff(t, "update", d, []string{"autoDelete", "labels", "name"}, nil, false)

	h.api.reset()
	upd := h.mustUpdate(urn, id, in, outs, news)
	wantBody(t, "update", h.api.one("PUT", "/primary_ips/"+id), map[string]any{"name": "mail-v4", "auto_delete": true,
		"labels": map[string]any{"a": "b"}})
	wantString(t, upd, "ipAddress", addr)

	// Delete of an unassigned IP (autoDelete false or not: destroying the resource deletes the address).
	h.api.reset()
	h.mustDelete(urn6, id6, outs6)
	wantCalls(t, "delete", h.api.calls(), []string{"GET /primary_ips/" + id6, "DELETE /primary_ips/" + id6})
	h.mustDelete(urn6, id6, outs6) // gone already: no error
	if gotID, _, _ := h.read(urn6, id6, outs6, in6); gotID != "" {
		t.Error("read of a deleted IP must say it is gone")
	}
}

// The mailstack host: an SSH key, a primary IPv4 that outlives the server, the server, and its PTR.
type hostFixture struct {
	keyID, ipID, ipAddr string
	urn                 string
	in                  resource.PropertyMap
}

func newHost(t *testing.T, h *harness) hostFixture {
	t.Helper()
	keyID, _ := h.mustCreate(urnOf(sshKeyType, "key"), h.mustCheck(urnOf(sshKeyType, "key"),
		props(map[string]any{"name": "mail.example.org", "publicKey": pubKey})))
	ipID, ipOuts := h.mustCreate(urnOf(primaryIPType, "ip"), h.mustCheck(urnOf(primaryIPType, "ip"),
		props(map[string]any{"name": "mail-ipv4", "type": "ipv4", "location": "nbg1", "autoDelete": false})))
	urn := urnOf(serverType, "mail")
	in := h.mustCheck(urn, props(map[string]any{"name": "mail.example.org", "serverType": "cx22", "image": "debian-12",
		"location": "nbg1", "sshKeys": []any{keyID},
		"publicNets": []any{map[string]any{"ipv4Enabled": true, "ipv4": float64(mustID(t, ipID)), "ipv6Enabled": true}},
		"labels":     map[string]any{"managed-by": "mailstack"}, "userData": "#cloud-config\n"}))
	return hostFixture{keyID, ipID, get(ipOuts, "ipAddress").StringValue(), urn, in}
}

func TestServer(t *testing.T) {
	h := newHarness(t)
	h.api.polls = 2 // actions run for a while: the provider must wait
	host := newHost(t, h)
	urn, in := host.urn, host.in
	// An SDKv2 resource: the bridge's Check records what it defaulted (nothing here) in __defaults and suppresses
	// Terraform's falsy defaults (pulumi-terraform-bridge pkg/tfbridge/schema.go,
	// shouldSuppressTFSchemaDefaultValue), so keepDisk and friends are not stored.
	if v := get(in, "__defaults"); !v.IsArray() || len(v.ArrayValue()) != 0 {
		t.Errorf("__defaults %v, want []", v)
	}
	if v, ok := in["keepDisk"]; ok {
		t.Errorf("keepDisk stored in the inputs: %v", v)
	}

	h.api.reset()
	id, outs := h.mustCreate(urn, in)
	wantNumericID(t, "server", id)
	wantBody(t, "create", h.api.one("POST", "/servers"), map[string]any{"name": "mail.example.org", "server_type": "cx22",
		"image": "debian-12", "location": "nbg1", "ssh_keys": []any{float64(mustID(t, host.keyID))},
		"public_net": map[string]any{"enable_ipv4": true, "enable_ipv6": true, "ipv4": float64(mustID(t, host.ipID))},
		"labels":     map[string]any{"managed-by": "mailstack"}, "user_data": "#cloud-config\n"})
	polls := 0
	for _, r := range h.api.reqs() {
		if r.Path == "/actions" {
			polls++
			if !strings.Contains(r.Query, "id=") {
				t.Errorf("action poll without ids: %s", r.Query)
			}
		}
	}
	if polls < 2 {
		t.Errorf("the create actions were polled %d times: the provider did not wait for them", polls)
	}
	wantString(t, outs, "status", "running")
	wantString(t, outs, "ipv4Address", host.ipAddr)
	if v := get(outs, "ipv6Address").StringValue(); !strings.HasSuffix(v, "::1") {
		t.Errorf("ipv6Address %q, want the first address of the /64", v)
	}
	wantString(t, outs, "serverType", "cx22")
	wantString(t, outs, "userData", "#cloud-config\n")

	// Read.
	if gotID, readOuts, readIns := h.read(urn, id, outs, in); gotID != id || !readIns.DeepEquals(in) ||
		get(readOuts, "ipv4Address").StringValue() != host.ipAddr {
		t.Errorf("read: %s %v %v", gotID, readOuts, readIns)
	}

	// Diffs. internal/server/resource.go: image, location, ssh_keys, user_data ForceNew; the rest in place. The
	// program named the server, so the bridge deletes the old one first (pkg/tfbridge/provider.go Diff,
	// nameRequiresDeleteBeforeReplace).
	h.wantChanges(urn, id, in, outs, []change{
		{"image", "debian-13", true, true},
		{"location", "fsn1", true, true},
		{"sshKeys", []any{"99"}, true, true},
		{"userData", "#cloud-config\npackages: [postfix]\n", true, true},
		{"serverType", "cx32", false, false},
		{"name", "mx.example.org", false, false},
		{"labels", map[string]any{}, false, false},
	})
	news := in.Copy()
	news["userData"] = strV("  #cloud-config\n\n")
	wantDiff(t, "userData whitespace", h.diff(urn, id, in, outs, news), nil, nil, false)
	// An autonamed server (name in __defaults) is replaced new one first: its new name is free.
	auto := h.mustCheck(urn, props(map[string]any{"serverType": "cx22", "image": "debian-12", "location": "nbg1"}))
	autoNews := auto.Copy()
	autoNews["image"] = strV("debian-13")
	wantDiff(t, "autonamed", h.diff(urn, id, auto, outs, autoNews), []string{"image"}, []string{"image"}, false)
	pn := func(m map[string]any) resource.PropertyValue { return resource.NewPropertyValue([]any{m}) }
	ipNum := float64(mustID(t, host.ipID))
	// public_net has no ForceNew upstream: every change is an update (updatePublicNet).
	for what, v := range map[string]resource.PropertyValue{
		"another primary IP":         pn(map[string]any{"ipv4Enabled": true, "ipv4": 12345.0, "ipv6Enabled": true}),
		"a primary IP not known yet": pn(map[string]any{"ipv4Enabled": true, "ipv4": unknown(), "ipv6Enabled": true}),
		"IPv6 off":                   pn(map[string]any{"ipv4Enabled": true, "ipv4": ipNum, "ipv6Enabled": false}),
		"pinned IP dropped":          pn(map[string]any{"ipv4Enabled": true, "ipv6Enabled": true}),
		"flags unknown":              pn(map[string]any{"ipv4Enabled": unknown(), "ipv4": ipNum, "ipv6Enabled": true}),
	} {
		news := in.Copy()
		news["publicNets"] = v
		wantDiff(t, what, h.diff(urn, id, in, outs, news), []string{"publicNets"}, nil, false)
	}

	// Update: rename and relabel (resourceServerUpdate: one call each), then a resize, then keepDisk.
	h.api.reset()
	news = in.Copy()
	news["name"] = strV("mx.example.org")
	news["labels"] = resource.NewPropertyValue(map[string]any{"role": "mx"})
	outs = h.mustUpdate(urn, id, in, outs, news)
	wantCalls(t, "rename", h.api.calls(), []string{"GET /servers/" + id, "PUT /servers/" + id, "PUT /servers/" + id,
		"GET /servers/" + id})
	if bodies := h.api.find("PUT", "/servers/"+id); len(bodies) != 2 || str_(bodies[0], "name") != "mx.example.org" ||
		fmt.Sprint(bodies[1]["labels"]) != "map[role:mx]" {
		t.Errorf("rename and relabel bodies %v", bodies)
	}
	in = news

	h.api.reset()
	news = in.Copy()
	news["serverType"] = strV("cx32")
	outs = h.mustUpdate(urn, id, in, outs, news)
	// resourceServerUpdate, server_type: power off if running, change_type, and no power-on (powerOnServer is only
	// called on create and by updatePublicNet): the server stays off.
	wantCalls(t, "resize", h.api.calls(), []string{"GET /servers/" + id, "POST /servers/" + id + "/actions/poweroff",
		"POST /servers/" + id + "/actions/change_type", "GET /servers/" + id})
	wantBody(t, "resize", h.api.one("POST", "/servers/"+id+"/actions/change_type"),
		map[string]any{"server_type": "cx32", "upgrade_disk": true})
	wantString(t, outs, "serverType", "cx32")
	wantString(t, outs, "status", "off")
	in = news

	h.api.reset()
	news = in.Copy()
	news["serverType"], news["keepDisk"] = strV("cx42"), boolV(true)
	outs = h.mustUpdate(urn, id, in, outs, news)
	wantBody(t, "resize keeping the disk", h.api.one("POST", "/servers/"+id+"/actions/change_type"),
		map[string]any{"server_type": "cx42", "upgrade_disk": false})
	in = news

	// A new primary IP (updatePublicNet, publicNetUpdateDecision "ip set true + ip id"): off, unassign the old
	// (kept: it was pinned), assign the new, on.
	ip2ID, ip2Outs := h.mustCreate(urnOf(primaryIPType, "ip2"), h.mustCheck(urnOf(primaryIPType, "ip2"),
		props(map[string]any{"name": "mail-ipv4-b", "type": "ipv4", "location": "nbg1"})))
	h.api.reset()
	news = in.Copy()
	news["publicNets"] = pn(map[string]any{"ipv4Enabled": true, "ipv4": float64(mustID(t, ip2ID)), "ipv6Enabled": true})
	outs = h.mustUpdate(urn, id, in, outs, news)
	wantCalls(t, "swap IPv4", h.api.calls(), []string{"GET /servers/" + id, "POST /servers/" + id + "/actions/poweroff",
		"POST /primary_ips/" + host.ipID + "/actions/unassign", "POST /primary_ips/" + ip2ID + "/actions/assign",
		"POST /servers/" + id + "/actions/poweron", "GET /servers/" + id})
	wantBody(t, "assign", h.api.one("POST", "/primary_ips/"+ip2ID+"/actions/assign"),
		map[string]any{"assignee_id": float64(mustID(t, id)), "assignee_type": "server"})
	wantString(t, outs, "ipv4Address", get(ip2Outs, "ipAddress").StringValue())
	in = news

	// Delete: the server goes; its pinned primary IPs (autoDelete false) stay for their own resources.
	h.api.reset()
	h.mustDelete(urn, id, outs)
	wantCalls(t, "delete", h.api.calls(), []string{"DELETE /servers/" + id})
	if _, ok := h.api.primaryIPs[mustID(t, ip2ID)]; !ok {
		t.Error("the primary IP with autoDelete false went with the server")
	}
	h.mustDelete(urn, id, outs) // gone: no error
	if gotID, _, _ := h.read(urn, id, outs, in); gotID != "" {
		t.Error("read of a deleted server must say it is gone")
	}
}

// A server whose start fails exists all the same: Create reports a partial failure with its ID, so the engine
// keeps it in the state instead of leaking it.
func TestServerPartialFailure(t *testing.T) {
	h := newHarness(t)
	host := newHost(t, h)
	h.api.failCommands = []string{"start_server"}
	_, _, err := h.create(host.urn, host.in, false)
	if err == nil {
		t.Fatal("create must fail when the server does not start")
	}
	st, _ := status.FromError(err)
	var initFailed *pulumirpc.ErrorResourceInitFailed
	for _, d := range st.Details() {
		if f, ok := d.(*pulumirpc.ErrorResourceInitFailed); ok {
			initFailed = f
		}
	}
	if initFailed == nil || !numericID.MatchString(initFailed.GetId()) || !strings.Contains(st.Message(), "start_server failed") {
		t.Fatalf("want ErrorResourceInitFailed with the server's ID and the action's error: %v %v", err, st.Details())
	}
}

func TestPrimaryIPDeleteWhileAssigned(t *testing.T) {
	h := newHarness(t)
	host := newHost(t, h)
	sid, _ := h.mustCreate(host.urn, host.in)
	ipURN := urnOf(primaryIPType, "ip")
	ipState := props(map[string]any{"name": "mail-ipv4", "type": "ipv4", "location": "nbg1", "autoDelete": false})

	h.api.reset()
	h.mustDelete(ipURN, host.ipID, ipState)
	wantCalls(t, "delete assigned", h.api.calls(), []string{"GET /primary_ips/" + host.ipID, "GET /servers/" + sid,
		"POST /servers/" + sid + "/actions/poweroff", "POST /primary_ips/" + host.ipID + "/actions/unassign",
		"POST /servers/" + sid + "/actions/poweron", "DELETE /primary_ips/" + host.ipID})
	if len(h.api.primaryIPs) != 1 { // the server's auto-created IPv6 is left
		t.Errorf("primary IPs left: %d", len(h.api.primaryIPs))
	}
	if s := h.api.servers[mustID(t, sid)]; s.Status != "running" {
		t.Errorf("the server was left %s", s.Status)
	}
}

func TestRdns(t *testing.T) {
	h := newHarness(t)
	host := newHost(t, h)
	sid, _ := h.mustCreate(host.urn, host.in)

	urn := urnOf(rdnsType, "ptr")
	in := h.mustCheck(urn, props(map[string]any{"primaryIpId": float64(mustID(t, host.ipID)), "ipAddress": host.ipAddr,
		"dnsPtr": "mail.example.org"}))
	h.api.reset()
	id, outs := h.mustCreate(urn, in)
	if want := "p-" + host.ipID + "-" + host.ipAddr; id != want {
		t.Fatalf("ID %q, want %q", id, want)
	}
	wantBody(t, "set", h.api.one("POST", "/primary_ips/"+host.ipID+"/actions/change_dns_ptr"),
		map[string]any{"ip": host.ipAddr, "dns_ptr": "mail.example.org"})

	gotID, readOuts, _ := h.read(urn, id, outs, in)
	if gotID != id {
		t.Fatalf("read ID %q", gotID)
	}
	wantString(t, readOuts, "dnsPtr", "mail.example.org")
	h.api.mu.Lock()
	h.api.primaryIPs[mustID(t, host.ipID)].DNSPtr[0].DNSPtr = "changed.by.hand"
	h.api.mu.Unlock()
	_, readOuts, readIns := h.read(urn, id, outs, in)
	wantString(t, readOuts, "dnsPtr", "changed.by.hand")
	wantString(t, readIns, "dnsPtr", "changed.by.hand")

	news := in.Copy()
	news["dnsPtr"] = strV("mx.example.org")
	wantDiff(t, "ptr", h.diff(urn, id, in, outs, news), []string{"dnsPtr"}, nil, false)
	// internal/rdns/resource.go (Plugin Framework): the target and the address RequiresReplace, and the bridge
	// creates the new entry first (pkg/pf/tfbridge/provider_diff.go). The program asks for deleteBeforeReplace.
	for key, v := range map[string]any{"ipAddress": "203.0.113.77", "primaryIpId": 4242.0} {
		n := in.Copy()
		n[resource.PropertyKey(key)] = resource.NewPropertyValue(v)
		wantDiff(t, key, h.diff(urn, id, in, outs, n), []string{key}, []string{key}, false)
	}
	h.api.reset()
	h.mustUpdate(urn, id, in, outs, news)
	wantBody(t, "update", h.api.one("POST", "/primary_ips/"+host.ipID+"/actions/change_dns_ptr"),
		map[string]any{"ip": host.ipAddr, "dns_ptr": "mx.example.org"})

	h.api.reset()
	h.mustDelete(urn, id, news)
	body := h.api.one("POST", "/primary_ips/"+host.ipID+"/actions/change_dns_ptr")
	if v, ok := body["dns_ptr"]; !ok || v != nil {
		t.Errorf("delete must reset the PTR with dns_ptr null: %v", body)
	}

	// On a server's address.
	surn := urnOf(rdnsType, "sptr")
	sin := h.mustCheck(surn, props(map[string]any{"serverId": float64(mustID(t, sid)), "ipAddress": host.ipAddr,
		"dnsPtr": "srv.example.org"}))
	h.api.reset()
	sidR, _ := h.mustCreate(surn, sin)
	if want := "s-" + sid + "-" + host.ipAddr; sidR != want {
		t.Errorf("ID %q, want %q", sidR, want)
	}
	wantBody(t, "server ptr", h.api.one("POST", "/servers/"+sid+"/actions/change_dns_ptr"),
		map[string]any{"ip": host.ipAddr, "dns_ptr": "srv.example.org"})

	// Gone with its primary IP: no error.
	h.api.mu.Lock()
	delete(h.api.primaryIPs, mustID(t, host.ipID))
	h.api.mu.Unlock()
	h.mustDelete(urn, id, news)
	if gotID, _, _ := h.read(urn, id, news, news); gotID != "" {
		t.Error("an entry whose IP is gone is gone")
	}
}

// mailstack's firewall: the ports of components/firewall.ts.
func mailRules() []any {
	anywhere := []any{"0.0.0.0/0", "::/0"}
	rules := []any{map[string]any{"direction": "in", "protocol": "tcp", "port": "22", "sourceIps": []any{"203.0.113.0/24"},
		"description": "SSH (admins only)"}}
	for _, p := range []string{"25", "80", "143", "587"} {
		rules = append(rules, map[string]any{"direction": "in", "protocol": "tcp", "port": p, "sourceIps": anywhere,
			"description": "port " + p})
	}
	return append(rules, map[string]any{"direction": "in", "protocol": "icmp", "sourceIps": anywhere,
		"description": "ping, path MTU discovery"})
}

func TestFirewall(t *testing.T) {
	h := newHarness(t)
	urn := urnOf(firewallType, "fw")
	in := h.mustCheck(urn, props(map[string]any{"name": "mail.example.org", "rules": mailRules(),
		"labels": map[string]any{"managed-by": "mailstack"}}))
	id, outs := h.mustCreate(urn, in)
	wantNumericID(t, "firewall", id)
	body := h.api.one("POST", "/firewalls")
	wantBody(t, "create", body, map[string]any{"name": "mail.example.org", "labels": map[string]any{"managed-by": "mailstack"}})
	rules := body["rules"].([]any)
	if len(rules) != 6 {
		t.Fatalf("%d rules sent", len(rules))
	}
	wantBody(t, "rule 0", rules[0].(map[string]any), map[string]any{"direction": "in", "protocol": "tcp", "port": "22",
		"source_ips": []any{"203.0.113.0/24"}, "description": "SSH (admins only)"})
	wantBody(t, "rule 5", rules[5].(map[string]any), map[string]any{"protocol": "icmp", "source_ips": []any{"0.0.0.0/0", "::/0"}})
	if _, ok := rules[5].(map[string]any)["port"]; ok {
		t.Error("icmp rule sent with a port")
	}
	wantUnknownFree(t, outs)

	// Read: the API's rules mean the inputs' rules, so nothing drifts.
	_, readOuts, readIns := h.read(urn, id, outs, in)
	if !readIns.DeepEquals(in) || !get(readOuts, "rules").DeepEquals(get(in, "rules")) {
		t.Errorf("read drifted:\n%v\n%v", readIns, in)
	}

	// Diffs: nothing replaces a firewall.
	news := in.Copy()
	news["rules"] = resource.NewPropertyValue(append(mailRules(), map[string]any{"direction": "in", "protocol": "tcp",
		"port": "993", "sourceIps": []any{"0.0.0.0/0", "::/0"}}))
	news["name"] = strV("mx")
	wantDiff(t, "rules and name", h.diff(urn, id, in, outs, news), []string{"name", "rules"}, nil, false)

	h.api.reset()
	upd := h.mustUpdate(urn, id, in, outs, news)
	wantBody(t, "rename", h.api.one("PUT", "/firewalls/"+id), map[string]any{"name": "mx"})
	if n := len(h.api.one("POST", "/firewalls/"+id+"/actions/set_rules")["rules"].([]any)); n != 7 {
		t.Errorf("set_rules with %d rules, want 7", n)
	}
	wantString(t, upd, "name", "mx")

	// Removing every rule sends an empty list.
	h.api.reset()
	empty := news.Copy()
	delete(empty, "rules")
	h.mustUpdate(urn, id, news, upd, empty)
	if r, ok := h.api.one("POST", "/firewalls/"+id+"/actions/set_rules")["rules"].([]any); !ok || len(r) != 0 {
		t.Errorf("no rules must be sent as an empty list")
	}

	h.api.reset()
	h.mustDelete(urn, id, upd)
	wantCalls(t, "delete", h.api.calls(), []string{"DELETE /firewalls/" + id})
	h.mustDelete(urn, id, upd)
}

func wantUnknownFree(t *testing.T, pm resource.PropertyMap) {
	t.Helper()
	if pm.ContainsUnknowns() {
		t.Errorf("outputs of a real operation contain unknowns: %v", pm)
	}
}

func TestFirewallAttachment(t *testing.T) {
	h := newHarness(t)
	host := newHost(t, h)
	sid, _ := h.mustCreate(host.urn, host.in)
	host2 := host.in.Copy()
	host2["name"] = strV("other")
	host2["publicNets"] = resource.NewPropertyValue([]any{map[string]any{"ipv4Enabled": true, "ipv6Enabled": true}})
	sid2, _ := h.mustCreate(urnOf(serverType, "other"), host2)
	fwID, _ := h.mustCreate(urnOf(firewallType, "fw"), h.mustCheck(urnOf(firewallType, "fw"),
		props(map[string]any{"name": "fw", "rules": mailRules()})))

	urn := urnOf(firewallAttachmentType, "fw")
	in := h.mustCheck(urn, props(map[string]any{"firewallId": float64(mustID(t, fwID)), "serverIds": []any{float64(mustID(t, sid))}}))
	h.api.reset()
	id, outs := h.mustCreate(urn, in)
	if id != fwID {
		t.Fatalf("ID %q, want the firewall's %q", id, fwID)
	}
	wantBody(t, "apply", h.api.one("POST", "/firewalls/"+fwID+"/actions/apply_to_resources"), map[string]any{
		"apply_to": []any{map[string]any{"type": "server", "server": map[string]any{"id": float64(mustID(t, sid))}}}})
	if gotID, _, readIns := h.read(urn, id, outs, in); gotID != id || !readIns.DeepEquals(in) {
		t.Errorf("read: %s %v", gotID, readIns)
	}

	// Sets (internal/firewall/attachment_resource.go: server_ids TypeSet): stored as given, and the order is no
	// change.
	given := props(map[string]any{"firewallId": 1, "serverIds": []any{3, 1, 2}, "__defaults": []any{}})
	a, _ := h.check(urn, given, nil)
	if !a.DeepEquals(given) {
		t.Errorf("Check changed the inputs: %v", a)
	}
	b := a.Copy()
	b["serverIds"] = resource.NewPropertyValue([]any{2, 3, 1})
	wantDiff(t, "order", h.diff(urn, id, a, outs, b), nil, nil, false)

	news := in.Copy()
	news["serverIds"] = resource.NewPropertyValue([]any{float64(mustID(t, sid2))})
	wantDiff(t, "servers", h.diff(urn, id, in, outs, news), []string{"serverIds"}, nil, false)
	n2 := in.Copy()
	n2["firewallId"] = numV(777)
	wantDiff(t, "firewall", h.diff(urn, id, in, outs, n2), []string{"firewallId"}, []string{"firewallId"}, false)

	h.api.reset()
	outs = h.mustUpdate(urn, id, in, outs, news)
	wantBody(t, "remove", h.api.one("POST", "/firewalls/"+fwID+"/actions/remove_from_resources"), map[string]any{
		"remove_from": []any{map[string]any{"type": "server", "server": map[string]any{"id": float64(mustID(t, sid))}}}})
	wantBody(t, "add", h.api.one("POST", "/firewalls/"+fwID+"/actions/apply_to_resources"), map[string]any{
		"apply_to": []any{map[string]any{"type": "server", "server": map[string]any{"id": float64(mustID(t, sid2))}}}})

	// The firewall cannot be deleted while attached: the attachment goes first, as the engine orders it.
	if err := h.delete(urnOf(firewallType, "fw"), fwID, props(map[string]any{"name": "fw"})); err == nil ||
		!strings.Contains(err.Error(), "resource_in_use") {
		t.Errorf("deleting an attached firewall: %v", err)
	}
	h.api.reset()
	h.mustDelete(urn, id, outs)
	wantCalls(t, "detach", h.api.calls(), []string{"POST /firewalls/" + fwID + "/actions/remove_from_resources"})
	h.mustDelete(urn, id, outs) // already removed: no error
	// Upstream's read keeps an attachment whose firewall applies to nothing, with empty sets.
	if gotID, readOuts, _ := h.read(urn, id, outs, news); gotID != id || len(get(readOuts, "serverIds").ArrayValue()) != 0 {
		t.Errorf("read of an attachment to nothing: %q %v", gotID, readOuts)
	}
	h.mustDelete(urnOf(firewallType, "fw"), fwID, props(map[string]any{"name": "fw"}))
}

// The whole mailstack Hetzner host, created in the engine's order and destroyed in reverse: nothing is left,
// the primary IP with autoDelete false included.
func TestMailstackStack(t *testing.T) {
	h := newHarness(t)
	type res struct {
		urn, id string
		outs    resource.PropertyMap
	}
	var created []res
	mk := func(typ, name string, news map[string]any) res {
		urn := urnOf(typ, name)
		id, outs := h.mustCreate(urn, h.mustCheck(urn, props(news)))
		r := res{urn, id, outs}
		created = append(created, r)
		return r
	}
	labels := map[string]any{"managed-by": "mailstack"}
	key := mk(sshKeyType, "mail-key", map[string]any{"name": "mail.example.org", "publicKey": pubKey, "labels": labels})
	ip := mk(primaryIPType, "mail-ipv4", map[string]any{"name": "mail.example.org-ipv4", "type": "ipv4",
		"assigneeType": "server", "location": "nbg1", "autoDelete": false, "labels": labels})
	ipNum := float64(mustID(t, ip.id))
	srv := mk(serverType, "mail", map[string]any{"name": "mail.example.org", "serverType": "cx22", "image": "debian-12",
		"location": "nbg1", "sshKeys": []any{key.id}, "labels": labels,
		"publicNets": []any{map[string]any{"ipv4Enabled": true, "ipv4": ipNum, "ipv6Enabled": true}}})
	mk(rdnsType, "mail-ptr", map[string]any{"primaryIpId": ipNum, "ipAddress": get(ip.outs, "ipAddress").StringValue(),
		"dnsPtr": "mail.example.org"})
	fw := mk(firewallType, "mail-fw", map[string]any{"name": "mail.example.org", "rules": mailRules(), "labels": labels})
	mk(firewallAttachmentType, "mail-fw", map[string]any{"firewallId": float64(mustID(t, fw.id)),
		"serverIds": []any{float64(mustID(t, srv.id))}})
	if s := h.api.servers[mustID(t, srv.id)]; s.PublicNet.IPv4.DNSPtr != "mail.example.org" || len(s.PublicNet.Firewalls) != 1 {
		t.Errorf("server after up: ptr %q, firewalls %v", s.PublicNet.IPv4.DNSPtr, s.PublicNet.Firewalls)
	}

	for i := len(created) - 1; i >= 0; i-- {
		h.mustDelete(created[i].urn, created[i].id, created[i].outs)
	}
	if n := len(h.api.sshKeys) + len(h.api.primaryIPs) + len(h.api.servers) + len(h.api.firewalls); n != 0 {
		t.Fatalf("%d resources left after destroy: keys %v ips %v servers %v firewalls %v", n,
			h.api.sshKeys, h.api.primaryIPs, h.api.servers, h.api.firewalls)
	}
	for _, r := range h.api.reqs() {
		if r.Auth != "Bearer "+testToken {
			t.Fatalf("%s %s without the token", r.Method, r.Path)
		}
	}
}

// Turning IPv6 off updates the server in place, as terraform-provider-hcloud's updatePublicNet does
// (internal/server/resource.go; public_net has no ForceNew): power off, then per family publicNetUpdateDecision
// (the pinned IPv4 is unassigned and assigned again; the IPv6 address Hetzner made for the server is unassigned
// and deleted), then power on.
func TestServerPublicNetInPlace(t *testing.T) {
	h := newHarness(t)
	host := newHost(t, h)
	id, outs := h.mustCreate(host.urn, host.in)
	s := h.api.servers[mustID(t, id)]
	v6 := strconv.FormatInt(s.PublicNet.IPv6.ID, 10)
	news := host.in.Copy()
	news["publicNets"] = resource.NewPropertyValue([]any{map[string]any{"ipv4Enabled": true,
		"ipv4": float64(mustID(t, host.ipID)), "ipv6Enabled": false}})
	wantDiff(t, "IPv6 off", h.diff(host.urn, id, host.in, outs, news), []string{"publicNets"}, nil, false)
	h.api.reset()
	outs = h.mustUpdate(host.urn, id, host.in, outs, news)
	wantCalls(t, "IPv6 off", h.api.calls(), []string{"GET /servers/" + id, "POST /servers/" + id + "/actions/poweroff",
		"POST /primary_ips/" + host.ipID + "/actions/unassign", "POST /primary_ips/" + host.ipID + "/actions/assign",
		"POST /primary_ips/" + v6 + "/actions/unassign", "DELETE /primary_ips/" + v6,
		"POST /servers/" + id + "/actions/poweron", "GET /servers/" + id})
	wantString(t, outs, "status", "running")
	wantString(t, outs, "ipv6Address", "")
	if _, ok := h.api.primaryIPs[mustID(t, host.ipID)]; !ok {
		t.Error("the pinned IPv4 address was deleted")
	}
}
