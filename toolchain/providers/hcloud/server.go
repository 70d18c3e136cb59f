package hcloud

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"mailstack/toolchain/providers/internal/base"
)

// serverKind is hcloud:index/server:Server, as terraform-provider-hcloud internal/server/resource.go (SDKv2):
// image, location, sshKeys and userData replace (userData compared without surrounding whitespace, its
// DiffSuppressFunc); name, labels, serverType, deleteProtection/rebuildProtection and publicNets update in place. A replacement deletes the old
// server first when the program named it (the bridge's nameRequiresDeleteBeforeReplace).
type serverKind struct{ shape }

var serverShape = shape{
	// backups .. rescue are not implemented: only their defaults pass Check.
	inputs: fields("name serverType! image location datacenter sshKeys:strings publicNets:list labels:map userData " +
		"keepDisk:bool allowDeprecatedImages:bool ignoreRemoteFirewallIds:bool deleteProtection:bool " +
		"rebuildProtection:bool backups:bool shutdownBeforeDeletion:bool networks:list firewallIds:list " +
		"placementGroupId:int iso rescue"),
	rules: diffRules{
		replace: []string{"image", "location", "datacenter", "sshKeys", "userData"},
		normal: map[string]func(resource.PropertyValue) resource.PropertyValue{
			"userData": trimmed, "publicNets": sortedSet,
		},
	},
	named: true,
	outputs: []string{"ipv4Address", "ipv6Address", "ipv6Network", "status", "location", "backupWindow",
		"primaryDiskSize", "firewallIds", "labels"},
	restored: []string{"name", "serverType", "image", "location", "sshKeys", "publicNets", "labels", "userData",
		"keepDisk", "allowDeprecatedImages", "ignoreRemoteFirewallIds", "backups", "deleteProtection",
		"rebuildProtection", "shutdownBeforeDeletion"},
	reader: reads("server", func(c *hcloud.Client) getter[hcloud.Server] { return c.Server.GetByID }, serverOutputs),
}

var publicNetSpec = fields("ipv4Enabled:bool ipv4:int ipv6Enabled:bool ipv6:int")

func (serverKind) check(news, _ resource.PropertyMap) []*pulumirpc.CheckFailure {
	failures := unsupported(news, map[string]resource.PropertyValue{
		"backups":                boolV(false),
		"shutdownBeforeDeletion": boolV(false), "networks": resource.NewNullProperty(),
		"firewallIds": resource.NewNullProperty(), "placementGroupId": resource.NewNullProperty(),
		"iso": resource.NewNullProperty(), "rescue": resource.NewNullProperty(),
	})
	// Removed in terraform-provider-hcloud v1.67.0 (validateutil.IsRemoved), which @pulumi/hcloud 1.41.0 bridges.
	if v := news["datacenter"]; !v.IsNull() {
		failures = append(failures, base.Failure("datacenter",
			"Removed Attribute: 'datacenter' was removed from the server (Hetzner phases out datacenters); use 'location'"))
	}
	// Hetzner sets both in one action; upstream's docs: "Needs to be the same as delete_protection".
	if d, r := base.Plain(news["deleteProtection"]), base.Plain(news["rebuildProtection"]); d.IsBool() && r.IsBool() &&
		d.BoolValue() != r.BoolValue() {
		failures = append(failures, base.Failure("rebuildProtection",
			"'rebuildProtection' must be the same as 'deleteProtection'"))
	}
	if v := news["image"]; v.IsNull() {
		failures = append(failures, base.Failure("image",
			"missing required property 'image' (mailstack's hcloud provider creates servers from an image)"))
	}
	for i, s := range stringList(news, "sshKeys") {
		if s == "" {
			failures = append(failures, base.Failure(fmt.Sprintf("sshKeys[%d]", i),
				"'sshKeys[%d]' is empty: pass an SSH key ID or name", i))
		}
	}
	failures = append(failures, validateLabels(news)...)
	failures = append(failures, validateObjects(news, "publicNets", publicNetSpec)...)
	if pn := base.Plain(news["publicNets"]); pn.IsArray() && len(pn.ArrayValue()) > 1 {
		failures = append(failures, base.Failure("publicNets", "'publicNets' takes at most one entry"))
	}
	return failures
}

// publicNet is the public network an input asks for (terraform-provider-hcloud's public_net block; both
// families default to enabled). IDs are 0 when the API chooses the address.
type publicNet struct {
	v4, v6     bool
	v4ID, v6ID int64
}

func publicNetOf(pm resource.PropertyMap) (publicNet, bool) {
	pn := publicNet{v4: true, v6: true}
	v := base.Plain(pm["publicNets"])
	if !v.IsArray() || len(v.ArrayValue()) == 0 || !v.ArrayValue()[0].IsObject() {
		return pn, false
	}
	m := v.ArrayValue()[0].ObjectValue()
	pn.v4, pn.v6 = base.GetBool(m, "ipv4Enabled", true), base.GetBool(m, "ipv6Enabled", true)
	pn.v4ID, _ = intOf(m, "ipv4")
	pn.v6ID, _ = intOf(m, "ipv6")
	return pn, true
}

func serverOutputs(inputs resource.PropertyMap, s *hcloud.Server) resource.PropertyMap {
	api := resource.PropertyMap{
		"name":              strV(s.Name),
		"status":            strV(string(s.Status)),
		"ipv4Address":       strV(""),
		"ipv6Address":       strV(""),
		"ipv6Network":       strV(""),
		"labels":            labelsV(s.Labels),
		"primaryDiskSize":   numV(int64(s.PrimaryDiskSize)),
		"backupWindow":      strV(s.BackupWindow),
		"deleteProtection":  boolV(s.Protection.Delete),
		"rebuildProtection": boolV(s.Protection.Rebuild),
	}
	if s.ServerType != nil {
		api["serverType"] = strV(s.ServerType.Name)
	}
	if s.Location != nil {
		api["location"] = strV(s.Location.Name)
	}
	if !s.PublicNet.IPv4.IsUnspecified() {
		api["ipv4Address"] = strV(s.PublicNet.IPv4.IP.String())
	}
	if net6 := s.PublicNet.IPv6.Network; net6 != nil && !s.PublicNet.IPv6.IsUnspecified() {
		api["ipv6Network"] = strV(net6.String())
		// The server's own address is the first one of its /64, as the real provider reports it.
		first := slices.Clone(net6.IP.To16())
		first[len(first)-1]++
		api["ipv6Address"] = strV(net.IP(first).String())
	}
	fw := []int64{}
	for _, f := range s.PublicNet.Firewalls {
		fw = append(fw, f.Firewall.ID)
	}
	api["firewallIds"] = intsV(fw)
	if inputs == nil {
		if s.Image != nil {
			api["image"] = strV(s.Image.Name)
		}
		api["publicNets"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
			"ipv4Enabled": boolV(!s.PublicNet.IPv4.IsUnspecified()), "ipv4": numV(s.PublicNet.IPv4.ID),
			"ipv6Enabled": boolV(!s.PublicNet.IPv6.IsUnspecified()), "ipv6": numV(s.PublicNet.IPv6.ID),
		})})
		return api
	}
	if t, ok := base.GetString(inputs, "serverType"); ok {
		if id, _ := idOrName(t); id != 0 {
			delete(api, "serverType") // given by ID: keep it so, or every refresh would see a change
		}
	}
	return mergeOutputs(inputs, api)
}

func (serverKind) create(ctx context.Context, op *operation, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	name := str(in, "name")
	keys, err := sshKeys(ctx, op, stringList(in, "sshKeys"))
	if err != nil {
		return "", nil, fmt.Errorf("creating server %q: %w", name, err)
	}
	typeID, typeName := idOrName(str(in, "serverType"))
	imageID, imageName := idOrName(str(in, "image"))
	opts := hcloud.ServerCreateOpts{
		Name:       name,
		ServerType: &hcloud.ServerType{ID: typeID, Name: typeName},
		Image:      &hcloud.Image{ID: imageID, Name: imageName},
		SSHKeys:    keys,
		UserData:   str(in, "userData"),
		Labels:     labels(in),
	}
	if loc := str(in, "location"); loc != "" {
		opts.Location = &hcloud.Location{Name: loc}
	}
	if pn, ok := publicNetOf(in); ok {
		opts.PublicNet = &hcloud.ServerCreatePublicNet{EnableIPv4: pn.v4, EnableIPv6: pn.v6}
		if pn.v4ID != 0 {
			opts.PublicNet.IPv4 = &hcloud.PrimaryIP{ID: pn.v4ID}
		}
		if pn.v6ID != 0 {
			opts.PublicNet.IPv6 = &hcloud.PrimaryIP{ID: pn.v6ID}
		}
	}
	res, _, err := op.client.Server.Create(ctx, opts)
	if err != nil {
		return "", nil, fmt.Errorf("creating server %q: %w", name, err)
	}
	id := idString(res.Server.ID)
	op.status(fmt.Sprintf("waiting for server %s (%s) to start", name, id))
	if err := op.wait(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...); err != nil {
		return id, serverOutputs(in, res.Server), fmt.Errorf("creating server %q (%s): %w", name, id, err)
	}
	if base.GetBool(in, "deleteProtection", false) {
		if err := setServerProtection(ctx, op, res.Server, true); err != nil {
			return id, serverOutputs(in, res.Server), err
		}
	}
	s, _, err := op.client.Server.GetByID(ctx, res.Server.ID)
	if err == nil && s == nil {
		err = errors.New("it is gone right after its creation")
	}
	if err != nil {
		return id, serverOutputs(in, res.Server), fmt.Errorf("reading server %q (%s): %w", name, id, err)
	}
	return id, serverOutputs(in, s), nil
}

// sshKeys turns IDs and names into keys; only names need a look-up.
func sshKeys(ctx context.Context, op *operation, idsOrNames []string) ([]*hcloud.SSHKey, error) {
	var keys []*hcloud.SSHKey
	for _, s := range idsOrNames {
		if id, _ := idOrName(s); id != 0 {
			keys = append(keys, &hcloud.SSHKey{ID: id})
			continue
		}
		k, _, err := op.client.SSHKey.GetByName(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("looking up SSH key %q: %w", s, err)
		}
		if k == nil {
			return nil, fmt.Errorf("SSH key not found: %s", s)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func (serverKind) update(ctx context.Context, op *operation, id string, olds, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	n, err := parseID("server", id)
	if err != nil {
		return nil, err
	}
	s, _, err := op.client.Server.GetByID(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("updating server %s: %w", id, err)
	}
	if s == nil {
		return nil, fmt.Errorf("updating server %s: it no longer exists (run `pulumi refresh`)", id)
	}
	if err := updateServer(ctx, op, s, olds, news); err != nil {
		return nil, fmt.Errorf("updating server %s: %w", id, err)
	}
	// Read back, so that the status is current.
	if s, _, err = op.client.Server.GetByID(ctx, n); err == nil && s == nil {
		err = errors.New("it is gone")
	}
	if err != nil {
		return nil, fmt.Errorf("reading server %s after its update: %w", id, err)
	}
	return serverOutputs(news, s), nil
}

// updateServer applies the in-place changes in resourceServerUpdate's order: name, labels, server type, public
// network. A resize powers a running server off and leaves it off; only a public network change powers it on.
func updateServer(ctx context.Context, op *operation, s *hcloud.Server, olds, news resource.PropertyMap) error {
	if str(olds, "name") != str(news, "name") {
		if _, _, err := op.client.Server.Update(ctx, s, hcloud.ServerUpdateOpts{Name: str(news, "name")}); err != nil {
			return err
		}
	}
	if !labelsV(labels(olds)).DeepEquals(labelsV(labels(news))) {
		if _, _, err := op.client.Server.Update(ctx, s, hcloud.ServerUpdateOpts{Labels: labels(news)}); err != nil {
			return err
		}
	}
	if newType := str(news, "serverType"); str(olds, "serverType") != newType {
		if s.Status == hcloud.ServerStatusRunning {
			op.warn(fmt.Sprintf("powering off server %s (%d) to change its type; it stays off", s.Name, s.ID))
			if err := powerOff(ctx, op, s); err != nil {
				return err
			}
		}
		typeID, typeName := idOrName(newType)
		if err := op.act(ctx, "changing the type to "+newType, func() (*hcloud.Action, *hcloud.Response, error) {
			return op.client.Server.ChangeType(ctx, s, hcloud.ServerChangeTypeOpts{
				ServerType:  &hcloud.ServerType{ID: typeID, Name: typeName},
				UpgradeDisk: !base.GetBool(news, "keepDisk", false),
			})
		}); err != nil {
			return err
		}
	}
	if on := base.GetBool(news, "deleteProtection", false); on != s.Protection.Delete {
		if err := setServerProtection(ctx, op, s, on); err != nil {
			return err
		}
	}
	if !sortedSet(base.Plain(olds["publicNets"])).DeepEquals(sortedSet(base.Plain(news["publicNets"]))) {
		return updatePublicNet(ctx, op, s, olds, news)
	}
	return nil
}

// setServerProtection sets delete and rebuild protection together (they must be equal).
func setServerProtection(ctx context.Context, op *operation, s *hcloud.Server, on bool) error {
	return op.act(ctx, fmt.Sprintf("setting the protection of server %d to %v", s.ID, on),
		func() (*hcloud.Action, *hcloud.Response, error) {
			return op.client.Server.ChangeProtection(ctx, s, hcloud.ServerChangeProtectionOpts{Delete: &on, Rebuild: &on})
		})
}

// updatePublicNet is upstream's updatePublicNet for one public_net block: power off, then per address family
// publicNetUpdateDecision, then power on.
func updatePublicNet(ctx context.Context, op *operation, s *hcloud.Server, olds, news resource.PropertyMap) error {
	o, _ := publicNetOf(olds)
	n, ok := publicNetOf(news)
	if !ok {
		return errors.New("removing the publicNets block is not supported by mailstack's hcloud provider")
	}
	op.warn(fmt.Sprintf("powering off server %s (%d) to change its public network", s.Name, s.ID))
	if err := powerOff(ctx, op, s); err != nil {
		return err
	}
	families := []netChange{
		{hcloud.PrimaryIPTypeIPv4, n.v4, o.v4, n.v4ID, o.v4ID, s.PublicNet.IPv4.ID},
		{hcloud.PrimaryIPTypeIPv6, n.v6, o.v6, n.v6ID, o.v6ID, s.PublicNet.IPv6.ID},
	}
	for _, f := range families {
		if err := f.apply(ctx, op, s); err != nil {
			if perr := powerOn(ctx, op, s); perr != nil {
				return errors.Join(err, perr)
			}
			return err
		}
	}
	return powerOn(ctx, op, s)
}

// netChange is one address family's part of a public network change.
type netChange struct {
	typ                hcloud.PrimaryIPType
	enabled, wasOn     bool
	id, oldID, current int64 // the primary IP asked for, the one asked for before, the one the server has
}

// apply is upstream's publicNetUpdateDecision.
func (c netChange) apply(ctx context.Context, op *operation, s *hcloud.Server) error {
	switch {
	case c.enabled && c.id != 0:
		if c.current != 0 {
			if err := unassign(ctx, op, c.current); err != nil {
				return err
			}
			if c.oldID == 0 { // the server's own address, made for it: it goes
				if err := deleteIP(ctx, op, c.current); err != nil {
					return err
				}
			}
		}
		return assign(ctx, op, c.id, s.ID)
	case !c.enabled && c.id == 0:
		if c.current == 0 {
			return nil
		}
		if err := unassign(ctx, op, c.current); err != nil {
			return err
		}
		if c.oldID == 0 {
			return deleteIP(ctx, op, c.current)
		}
	case c.enabled && c.id == 0:
		if c.wasOn && c.oldID != 0 {
			if err := unassign(ctx, op, c.oldID); err != nil {
				return err
			}
		}
		if (!c.wasOn && c.oldID == 0) || (c.wasOn && c.oldID != 0) {
			op.status(fmt.Sprintf("creating a new %s primary IP for server %d", c.typ, s.ID))
			res, _, err := op.client.PrimaryIP.Create(ctx, hcloud.PrimaryIPCreateOpts{
				Name: fmt.Sprintf("primary_ip-%d", 1000000+rand.IntN(9000000)), AssigneeID: &s.ID,
				AssigneeType: "server", AutoDelete: hcloud.Ptr(true), Type: c.typ,
			})
			if err == nil && res.Action != nil {
				err = op.wait(ctx, res.Action)
			}
			return err
		}
	default: // enabled false with an ID
		return fmt.Errorf("this operation is not allowed: ipv4_enabled = false | ipv4 = %d", c.id)
	}
	return nil
}

func unassign(ctx context.Context, op *operation, id int64) error {
	return op.act(ctx, fmt.Sprintf("unassigning primary IP %d", id), func() (*hcloud.Action, *hcloud.Response, error) {
		return op.client.PrimaryIP.Unassign(ctx, id)
	})
}

func assign(ctx context.Context, op *operation, id, serverID int64) error {
	return op.act(ctx, fmt.Sprintf("assigning primary IP %d", id), func() (*hcloud.Action, *hcloud.Response, error) {
		return op.client.PrimaryIP.Assign(ctx, hcloud.PrimaryIPAssignOpts{ID: id, AssigneeID: serverID, AssigneeType: "server"})
	})
}

func deleteIP(ctx context.Context, op *operation, id int64) error {
	if _, err := op.client.PrimaryIP.Delete(ctx, &hcloud.PrimaryIP{ID: id}); err != nil {
		return fmt.Errorf("deleting primary IP %d: %w", id, err)
	}
	return nil
}

func powerOff(ctx context.Context, op *operation, s *hcloud.Server) error {
	return op.act(ctx, fmt.Sprintf("powering off server %d", s.ID), func() (*hcloud.Action, *hcloud.Response, error) {
		return op.client.Server.Poweroff(ctx, s)
	})
}

func powerOn(ctx context.Context, op *operation, s *hcloud.Server) error {
	return op.act(ctx, fmt.Sprintf("powering on server %d", s.ID), func() (*hcloud.Action, *hcloud.Response, error) {
		return op.client.Server.Poweron(ctx, s)
	})
}

func (k serverKind) previewUpdate(olds, state, news resource.PropertyMap) resource.PropertyMap {
	var changed []string
	if o, n := base.Plain(olds["publicNets"]), base.Plain(news["publicNets"]); n.ContainsUnknowns() ||
		!sortedSet(o).DeepEquals(sortedSet(n)) {
		changed = append(changed, "ipv4Address", "ipv6Address", "ipv6Network")
	}
	return keepComputed(state, news, k.computed(), changed...)
}

func (serverKind) delete(ctx context.Context, op *operation, id string, state resource.PropertyMap) error {
	n, err := parseID("server", id)
	if err != nil {
		return err
	}
	// Upstream lifts Hetzner's protection before it deletes ("this does not protect deletion from Terraform
	// itself"): the program's Pulumi `protect` is what guards against a plan that deletes.
	if base.GetBool(state, "deleteProtection", false) {
		if err := setServerProtection(ctx, op, &hcloud.Server{ID: n}, false); err != nil && !notFound(err) {
			return fmt.Errorf("deleting server %s: %w", id, err)
		}
	}
	res, _, err := op.client.Server.DeleteWithResult(ctx, &hcloud.Server{ID: n})
	if notFound(err) {
		return nil
	}
	if err == nil {
		op.status(fmt.Sprintf("waiting for server %s to be deleted", id))
		err = op.wait(ctx, res.Action)
	}
	if err != nil {
		return fmt.Errorf("deleting server %s: %w", id, err)
	}
	return nil
}
