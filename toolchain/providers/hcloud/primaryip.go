package hcloud

import (
	"context"
	"fmt"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"mailstack/toolchain/providers/internal/base"
)

// primaryIPKind is hcloud:index/primaryIp:PrimaryIp, created unassigned in a location. type and location replace;
// name, labels and autoDelete update in place (terraform-provider-hcloud internal/primaryip/resource.go, a Plugin
// Framework resource). Destroying it deletes the address whatever autoDelete says (autoDelete is about the
// server's deletion), unassigning it first if a server still holds it.
type primaryIPKind struct{}

func (primaryIPKind) spec() base.Spec {
	return base.Spec{
		"name":             {Kind: base.String},
		"type":             {Kind: base.String, Required: true, Enum: []string{"ipv4", "ipv6"}},
		"assigneeType":     {Kind: base.String, Enum: []string{"server"}},
		"assigneeId":       {Kind: base.Int},
		"autoDelete":       {Kind: base.Bool},
		"datacenter":       {Kind: base.String},
		"location":         {Kind: base.String},
		"labels":           {Kind: base.StringMap},
		"deleteProtection": {Kind: base.Bool},
	}
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

func (primaryIPKind) diff(olds, news resource.PropertyMap, ignore []string) *pulumirpc.DiffResponse {
	return diffInputs(olds, news, ignore, diffRules{replace: []string{"type", "location"}})
}

func (primaryIPKind) computed() []string {
	return []string{"ipAddress", "ipNetwork", "assigneeId", "location", "datacenter", "labels"}
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
	if inputs == nil {
		return api
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

func (primaryIPKind) read(ctx context.Context, op *operation, id string, inputs, _ resource.PropertyMap) (resource.PropertyMap, error) {
	ip, err := fetch(ctx, "primary IP", id, op.client.PrimaryIP.GetByID)
	if err != nil || ip == nil {
		return nil, err
	}
	return primaryIPOutputs(inputs, ip), nil
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

func (k primaryIPKind) previewUpdate(_, state, news resource.PropertyMap) resource.PropertyMap {
	return keepComputed(state, news, k.computed())
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

func (primaryIPKind) inputsFromOutputs(outs resource.PropertyMap) resource.PropertyMap {
	return inputsOf(outs, "name", "type", "assigneeType", "autoDelete", "location", "labels", "deleteProtection")
}
