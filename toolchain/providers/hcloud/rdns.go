package hcloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"mailstack/toolchain/providers/internal/base"
)

// rdnsKind is hcloud:index/rdns:Rdns: the reverse DNS entry of one address of a primary IP or a server. Its ID is
// the real provider's "p-ID-IP" or "s-ID-IP". The target and the address replace; dnsPtr updates in place.
// Deleting resets the entry to Hetzner's default. A replacement creates the new entry before it deletes the old
// one, as upstream (a Plugin Framework resource: the bridge never deletes first); a program whose replacement
// keeps the address asks for deleteBeforeReplace, or the old entry's deletion resets the new PTR.
type rdnsKind struct{}

func (rdnsKind) spec() base.Spec {
	return base.Spec{
		"primaryIpId":    {Kind: base.Int},
		"serverId":       {Kind: base.Int},
		"floatingIpId":   {Kind: base.Int},
		"loadBalancerId": {Kind: base.Int},
		"ipAddress":      {Kind: base.String, Required: true},
		"dnsPtr":         {Kind: base.String, Required: true},
	}
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

func (rdnsKind) diff(olds, news resource.PropertyMap, ignore []string) *pulumirpc.DiffResponse {
	return diffInputs(olds, news, ignore, diffRules{
		replace: []string{"primaryIpId", "serverId", "floatingIpId", "loadBalancerId", "ipAddress"},
	})
}

func (rdnsKind) computed() []string { return nil }

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
		n, err := strconv.ParseInt(parts[1], 10, 64)
		ip := net.ParseIP(parts[2])
		if err == nil && n > 0 && ip != nil {
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

func (rdnsKind) previewUpdate(_, _, news resource.PropertyMap) resource.PropertyMap {
	return news.Copy()
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

func (rdnsKind) inputsFromOutputs(outs resource.PropertyMap) resource.PropertyMap {
	return inputsOf(outs, "primaryIpId", "serverId", "ipAddress", "dnsPtr")
}
