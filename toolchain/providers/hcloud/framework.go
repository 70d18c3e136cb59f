package hcloud

// The kinds upstream implements with the Terraform Plugin Framework: SshKey, PrimaryIp and Rdns. For them the
// bridge adds no defaults to the inputs (pkg/pf/tfbridge/provider_check.go) and never deletes first on a
// replacement (pkg/pf/tfbridge/provider_diff.go); a program that needs the old one gone first says
// deleteBeforeReplace.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"mailstack/toolchain/providers/internal/base"
)

// sshKeyKind is hcloud:index/sshKey:SshKey. A new public key replaces the key (compared as written, without
// normalising whitespace: terraform-provider-hcloud internal/sshkey/resource.go, public_key RequiresReplace);
// name and labels update in place.
type sshKeyKind struct{ shape }

var sshKeyShape = shape{
	inputs: fields("name publicKey! labels:map"), rules: diffRules{replace: []string{"publicKey"}},
	outputs: []string{"fingerprint", "labels"}, restored: []string{"name", "publicKey", "labels"},
	reader: reads("SSH key", func(c *hcloud.Client) getter[hcloud.SSHKey] { return c.SSHKey.GetByID }, sshKeyOutputs),
}

func (sshKeyKind) check(news, _ resource.PropertyMap) []*pulumirpc.CheckFailure {
	var failures []*pulumirpc.CheckFailure
	if s, ok := base.GetString(news, "publicKey"); ok && s == "" {
		failures = append(failures, base.Failure("publicKey", "'publicKey' must not be empty"))
	}
	return append(failures, validateLabels(news)...)
}

func sshKeyOutputs(inputs resource.PropertyMap, k *hcloud.SSHKey) resource.PropertyMap {
	api := resource.PropertyMap{
		"name":        strV(k.Name),
		"fingerprint": strV(k.Fingerprint),
		"labels":      labelsV(k.Labels),
	}
	if inputs == nil {
		api["publicKey"] = strV(k.PublicKey)
		return api
	}
	return mergeOutputs(inputs, api)
}

func (sshKeyKind) create(ctx context.Context, op *operation, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	k, _, err := op.client.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{
		Name:      str(in, "name"),
		PublicKey: str(in, "publicKey"),
		Labels:    labels(in),
	})
	if err != nil {
		return "", nil, fmt.Errorf("creating SSH key %q: %w", str(in, "name"), err)
	}
	return idString(k.ID), sshKeyOutputs(in, k), nil
}

func (sshKeyKind) update(ctx context.Context, op *operation, id string, _, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	n, err := parseID("SSH key", id)
	if err != nil {
		return nil, err
	}
	k, _, err := op.client.SSHKey.Update(ctx, &hcloud.SSHKey{ID: n}, hcloud.SSHKeyUpdateOpts{
		Name:   str(news, "name"),
		Labels: labels(news),
	})
	if err != nil {
		return nil, fmt.Errorf("updating SSH key %s: %w", id, err)
	}
	return sshKeyOutputs(news, k), nil
}

func (sshKeyKind) delete(ctx context.Context, op *operation, id string, _ resource.PropertyMap) error {
	return deleteByID("SSH key", id, func(n int64) (*hcloud.Response, error) {
		return op.client.SSHKey.Delete(ctx, &hcloud.SSHKey{ID: n})
	})
}

// primaryIPKind is hcloud:index/primaryIp:PrimaryIp, created unassigned in a location. type and location replace;
// name, labels and autoDelete update in place (terraform-provider-hcloud internal/primaryip/resource.go, a Plugin
// Framework resource). Destroying it deletes the address whatever autoDelete says (autoDelete is about the
// server's deletion), unassigning it first if a server still holds it.
type primaryIPKind struct{ shape }

var primaryIPShape = shape{
	inputs: fields("name type!=ipv4|ipv6 assigneeType=server assigneeId:int autoDelete:bool datacenter location " +
		"labels:map deleteProtection:bool"),
	rules:    diffRules{replace: []string{"type", "location"}},
	outputs:  []string{"ipAddress", "ipNetwork", "assigneeId", "location", "datacenter", "labels"},
	restored: []string{"name", "type", "assigneeType", "autoDelete", "location", "labels", "deleteProtection"},
	reader:   reads("primary IP", func(c *hcloud.Client) getter[hcloud.PrimaryIP] { return c.PrimaryIP.GetByID }, primaryIPOutputs),
}

func (primaryIPKind) check(news, _ resource.PropertyMap) []*pulumirpc.CheckFailure {
	failures := unsupported(news, map[string]resource.PropertyValue{
		"assigneeId":       numV(0),
		"deleteProtection": boolV(false),
	})
	// terraform-provider-hcloud v1.67.0 removed it (validateutil.IsRemoved); @pulumi/hcloud 1.41.0 bridges it.
	if v := news["datacenter"]; v.HasValue() && !v.IsNull() {
		failures = append(failures, base.Failure("datacenter",
			"Removed Attribute: 'datacenter' was removed from the primary IP (Hetzner phases out datacenters); use 'location'"))
	}
	if v := news["location"]; !v.HasValue() || v.IsNull() {
		failures = append(failures, base.Failure("location",
			"'location' is required: the address is created unassigned, in that place"))
	}
	return append(failures, validateLabels(news)...)
}

// warnings repeats what upstream's ValidateConfig says about assigneeType (terraform-provider-hcloud
// v1.66.1 and later, internal/primaryip/resource.go): it is only meaningful with assigneeId.
func (primaryIPKind) warnings(news resource.PropertyMap) []string {
	t, id := news["assigneeType"], news["assigneeId"]
	if t.HasValue() && !t.IsNull() && (!id.HasValue() || id.IsNull()) {
		return []string{"Unused Attribute: This attribute is now optional and is only required together with " +
			"the assignee_id attribute. Please remove it from your configuration."}
	}
	return nil
}

func primaryIPOutputs(inputs resource.PropertyMap, ip *hcloud.PrimaryIP) resource.PropertyMap {
	api := resource.PropertyMap{
		"name":             strV(ip.Name),
		"type":             strV(string(ip.Type)),
		"ipAddress":        strV(ip.IP.String()),
		"assigneeId":       numV(ip.AssigneeID),
		"assigneeType":     strV(ip.AssigneeType),
		"autoDelete":       boolV(ip.AutoDelete),
		"labels":           labelsV(ip.Labels),
		"deleteProtection": boolV(ip.Protection.Delete),
	}
	if ip.AssigneeType == "" {
		api["assigneeType"] = strV("server")
	}
	if ip.Type == hcloud.PrimaryIPTypeIPv6 && ip.Network != nil {
		api["ipNetwork"] = strV(ip.Network.String())
	}
	if ip.Location != nil {
		api["location"] = strV(ip.Location.Name)
	}
	return mergeOutputs(inputs, api)
}

func (primaryIPKind) create(ctx context.Context, op *operation, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	autoDelete := base.GetBool(in, "autoDelete", false)
	res, _, err := op.client.PrimaryIP.Create(ctx, hcloud.PrimaryIPCreateOpts{
		Name:         str(in, "name"),
		Type:         hcloud.PrimaryIPType(str(in, "type")),
		AssigneeType: "server",
		AutoDelete:   &autoDelete,
		Location:     str(in, "location"),
		Labels:       labels(in),
	})
	if err != nil {
		return "", nil, fmt.Errorf("creating primary IP %q: %w", str(in, "name"), err)
	}
	id := idString(res.PrimaryIP.ID)
	if res.Action != nil {
		if err := op.wait(ctx, res.Action); err != nil {
			return id, nil, fmt.Errorf("creating primary IP %q: %w", str(in, "name"), err)
		}
	}
	return id, primaryIPOutputs(in, res.PrimaryIP), nil
}

func (primaryIPKind) update(ctx context.Context, op *operation, id string, _, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	n, err := parseID("primary IP", id)
	if err != nil {
		return nil, err
	}
	autoDelete := base.GetBool(news, "autoDelete", false)
	l := labels(news)
	ip, _, err := op.client.PrimaryIP.Update(ctx, &hcloud.PrimaryIP{ID: n}, hcloud.PrimaryIPUpdateOpts{
		Name:       str(news, "name"),
		Labels:     &l,
		AutoDelete: &autoDelete,
	})
	if err != nil {
		return nil, fmt.Errorf("updating primary IP %s: %w", id, err)
	}
	return primaryIPOutputs(news, ip), nil
}

func (primaryIPKind) delete(ctx context.Context, op *operation, id string, _ resource.PropertyMap) error {
	n, err := parseID("primary IP", id)
	if err != nil {
		return err
	}
	ip, _, err := op.client.PrimaryIP.GetByID(ctx, n)
	if err != nil {
		return fmt.Errorf("deleting primary IP %s: %w", id, err)
	}
	if ip == nil {
		return nil // gone already, e.g. deleted with its server (autoDelete)
	}
	if ip.AssigneeID != 0 {
		if err := unassignPrimaryIP(ctx, op, ip); err != nil {
			return fmt.Errorf("deleting primary IP %s: %w", id, err)
		}
	}
	if _, err := op.client.PrimaryIP.Delete(ctx, ip); err != nil && !notFound(err) {
		return fmt.Errorf("deleting primary IP %s: %w", id, err)
	}
	return nil
}

// unassignPrimaryIP takes the address from its server, which must be off for that: a running server is powered
// off first and on again afterwards.
func unassignPrimaryIP(ctx context.Context, op *operation, ip *hcloud.PrimaryIP) error {
	server, _, err := op.client.Server.GetByID(ctx, ip.AssigneeID)
	if err != nil {
		return err
	}
	running := server != nil && server.Status == hcloud.ServerStatusRunning
	if running {
		op.warn(fmt.Sprintf("powering off server %d to take primary IP %s from it", server.ID, ip.IP))
		if err := powerOff(ctx, op, server); err != nil {
			return err
		}
	}
	if err := unassign(ctx, op, ip.ID); err != nil {
		return err
	}
	if running {
		return powerOn(ctx, op, server)
	}
	return nil
}

// rdnsKind is hcloud:index/rdns:Rdns: the reverse DNS entry of one address of a primary IP or a server. Its ID is
// the real provider's "p-ID-IP" or "s-ID-IP". The target and the address replace; dnsPtr updates in place.
// Deleting resets the entry to Hetzner's default. A replacement creates the new entry before it deletes the old
// one, as upstream (a Plugin Framework resource: the bridge never deletes first); a program whose replacement
// keeps the address asks for deleteBeforeReplace, or the old entry's deletion resets the new PTR.
type rdnsKind struct{ shape }

var rdnsShape = shape{
	inputs:   fields("primaryIpId:int serverId:int floatingIpId:int loadBalancerId:int ipAddress! dnsPtr!"),
	rules:    diffRules{replace: []string{"primaryIpId", "serverId", "floatingIpId", "loadBalancerId", "ipAddress"}},
	restored: []string{"primaryIpId", "serverId", "ipAddress", "dnsPtr"},
}

func (rdnsKind) check(news, _ resource.PropertyMap) []*pulumirpc.CheckFailure {
	failures := unsupported(news, map[string]resource.PropertyValue{
		"floatingIpId": resource.NewNullProperty(), "loadBalancerId": resource.NewNullProperty(),
	})
	for _, k := range []string{"primaryIpId", "serverId"} {
		failures = append(failures, validateInt(news, k)...)
	}
	set := 0
	for _, k := range []string{"primaryIpId", "serverId"} {
		if !news[resource.PropertyKey(k)].IsNull() {
			set++
		}
	}
	if set != 1 {
		failures = append(failures, base.Failure("primaryIpId", "exactly one of 'primaryIpId' or 'serverId' is required"))
	}
	if s, ok := base.GetString(news, "ipAddress"); ok && net.ParseIP(s) == nil {
		failures = append(failures, base.Failure("ipAddress", "'ipAddress' must be an IPv4 or IPv6 address, not %q", s))
	}
	if s, ok := base.GetString(news, "dnsPtr"); ok && s == "" {
		failures = append(failures, base.Failure("dnsPtr", "'dnsPtr' must not be empty"))
	}
	return failures
}

// rdnsTarget is what carries the entry.
type rdnsTarget struct {
	prefix string // "p" or "s"
	id     int64
	ip     net.IP
}

func (t rdnsTarget) String() string { return fmt.Sprintf("%s-%d-%s", t.prefix, t.id, t.ip) }

func (t rdnsTarget) supporter() hcloud.RDNSSupporter {
	if t.prefix == "s" {
		return &hcloud.Server{ID: t.id}
	}
	return &hcloud.PrimaryIP{ID: t.id}
}

func rdnsTargetOf(in resource.PropertyMap) (rdnsTarget, error) {
	ip := net.ParseIP(str(in, "ipAddress"))
	if ip == nil {
		return rdnsTarget{}, fmt.Errorf("invalid ipAddress %q", str(in, "ipAddress"))
	}
	if id, ok := intOf(in, "primaryIpId"); ok {
		return rdnsTarget{"p", id, ip}, nil
	}
	if id, ok := intOf(in, "serverId"); ok {
		return rdnsTarget{"s", id, ip}, nil
	}
	return rdnsTarget{}, errors.New("one of primaryIpId or serverId is required")
}

// parseRdnsID reads "p-123-192.0.2.1" or "s-123-2001:db8::1".
func parseRdnsID(id string) (rdnsTarget, error) {
	parts := strings.SplitN(id, "-", 3)
	if len(parts) == 3 && (parts[0] == "p" || parts[0] == "s") {
		n, err := parseID("Rdns target", parts[1])
		ip := net.ParseIP(parts[2])
		if err == nil && ip != nil {
			return rdnsTarget{parts[0], n, ip}, nil
		}
	}
	return rdnsTarget{}, fmt.Errorf("invalid Rdns ID %q: it must be p-PRIMARYIPID-IP or s-SERVERID-IP", id)
}

func (rdnsKind) create(ctx context.Context, op *operation, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	t, err := rdnsTargetOf(in)
	if err != nil {
		return "", nil, err
	}
	if err := setPtr(ctx, op, t, str(in, "dnsPtr")); err != nil {
		return "", nil, fmt.Errorf("setting the reverse DNS of %s: %w", t.ip, err)
	}
	return t.String(), in.Copy(), nil
}

func setPtr(ctx context.Context, op *operation, t rdnsTarget, ptr string) error {
	var p *string
	if ptr != "" {
		p = &ptr
	}
	action, _, err := op.client.RDNS.ChangeDNSPtr(ctx, t.supporter(), t.ip, p)
	if err != nil {
		return err
	}
	return op.wait(ctx, action)
}

func (rdnsKind) read(ctx context.Context, op *operation, id string, inputs, _ resource.PropertyMap) (resource.PropertyMap, error) {
	t, err := parseRdnsID(id)
	if err != nil {
		return nil, err
	}
	var carrier hcloud.RDNSSupporter
	if t.prefix == "s" {
		s, _, err := op.client.Server.GetByID(ctx, t.id)
		if err != nil {
			return nil, fmt.Errorf("reading the reverse DNS of %s: %w", t.ip, err)
		}
		if s != nil {
			carrier = s
		}
	} else {
		ip, _, err := op.client.PrimaryIP.GetByID(ctx, t.id)
		if err != nil {
			return nil, fmt.Errorf("reading the reverse DNS of %s: %w", t.ip, err)
		}
		if ip != nil {
			carrier = ip
		}
	}
	if carrier == nil {
		return nil, nil
	}
	ptr, err := carrier.GetDNSPtrForIP(t.ip)
	if err != nil {
		return nil, nil // the address is no longer there
	}
	api := resource.PropertyMap{"dnsPtr": strV(ptr), "ipAddress": strV(t.ip.String())}
	if t.prefix == "s" {
		api["serverId"] = numV(t.id)
	} else {
		api["primaryIpId"] = numV(t.id)
	}
	if inputs == nil {
		return api, nil
	}
	outs := mergeOutputs(inputs, api)
	if s, ok := base.GetString(inputs, "ipAddress"); ok && net.ParseIP(s).Equal(t.ip) {
		outs["ipAddress"] = strV(s) // the same address, as written
	}
	return outs, nil
}

func (rdnsKind) update(ctx context.Context, op *operation, id string, _, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	t, err := parseRdnsID(id)
	if err != nil {
		return nil, err
	}
	if err := setPtr(ctx, op, t, str(news, "dnsPtr")); err != nil {
		return nil, fmt.Errorf("setting the reverse DNS of %s: %w", t.ip, err)
	}
	return news.Copy(), nil
}

func (rdnsKind) delete(ctx context.Context, op *operation, id string, _ resource.PropertyMap) error {
	t, err := parseRdnsID(id)
	if err != nil {
		return err
	}
	if err := setPtr(ctx, op, t, ""); err != nil && !notFound(err) {
		return fmt.Errorf("resetting the reverse DNS of %s: %w", t.ip, err)
	}
	return nil
}
