package hcloud

// Volume and VolumeAttachment, as terraform-provider-hcloud internal/volume/resource.go and
// resource_attachment.go (both SDKv2).

import (
	"context"
	"fmt"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"mailstack/toolchain/providers/internal/base"
)

// volumeKind is hcloud:index/volume:Volume. Only location replaces (Optional+Computed+ForceNew); name, size (a
// resize: the API refuses to shrink), serverId (detach, attach), labels and deleteProtection update in place;
// format and automount only matter at create. A replacement deletes the old volume first when the program named
// it (the bridge's name rule, as for the server). Deleting lifts the delete protection first and detaches, as
// upstream ("this does not protect deletion from Terraform itself, as the Provider will lift the lock").
type volumeKind struct{ shape }

var volumeShape = shape{
	inputs: fields("name size:int! location serverId:int labels:map automount:bool format deleteProtection:bool"),
	rules:  diffRules{replace: []string{"location"}}, named: true,
	outputs:  []string{"linuxDevice", "location", "serverId", "labels"},
	restored: []string{"name", "size", "location", "labels", "automount", "format", "deleteProtection"},
	reader:   reads("volume", func(c *hcloud.Client) getter[hcloud.Volume] { return c.Volume.GetByID }, volumeOutputs),
}

func (volumeKind) check(news, _ resource.PropertyMap) []*pulumirpc.CheckFailure {
	var failures []*pulumirpc.CheckFailure
	if news["location"].IsNull() && news["serverId"].IsNull() {
		failures = append(failures, base.Failure("location", "one of 'location' or 'serverId' is required"))
	}
	return append(failures, validateLabels(news)...)
}

func volumeOutputs(inputs resource.PropertyMap, v *hcloud.Volume) resource.PropertyMap {
	api := resource.PropertyMap{
		"name":             strV(v.Name),
		"size":             numV(int64(v.Size)),
		"labels":           labelsV(v.Labels),
		"linuxDevice":      strV(v.LinuxDevice),
		"deleteProtection": boolV(v.Protection.Delete),
		"location":         strV(v.Location.Name), // always set, as setVolumeSchema does
	}
	if v.Server != nil {
		api["serverId"] = numV(v.Server.ID)
	}
	return mergeOutputs(inputs, api)
}

func (volumeKind) create(ctx context.Context, op *operation, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	size, _ := intOf(in, "size")
	opts := hcloud.VolumeCreateOpts{Name: str(in, "name"), Size: int(size), Labels: labels(in)}
	if loc := str(in, "location"); loc != "" {
		opts.Location = &hcloud.Location{Name: loc}
	}
	if id, ok := intOf(in, "serverId"); ok {
		opts.Server = &hcloud.Server{ID: id}
	}
	if v := base.Plain(in["automount"]); v.IsBool() {
		opts.Automount = hcloud.Ptr(v.BoolValue())
	}
	if f := str(in, "format"); f != "" {
		opts.Format = &f
	}
	res, _, err := op.client.Volume.Create(ctx, opts)
	if err != nil {
		return "", nil, fmt.Errorf("creating volume %q: %w", opts.Name, err)
	}
	id := idString(res.Volume.ID)
	if err := op.wait(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...); err != nil {
		return id, nil, fmt.Errorf("creating volume %q (%s): %w", opts.Name, id, err)
	}
	if base.GetBool(in, "deleteProtection", false) {
		if err := setVolumeProtection(ctx, op, res.Volume, true); err != nil {
			return id, nil, err
		}
	}
	return readVolumeAfter(ctx, op, id, in)
}

func readVolumeAfter(ctx context.Context, op *operation, id string, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	outs, err := readBy(ctx, "volume", id, op.client.Volume.GetByID, in, volumeOutputs)
	if err == nil && outs == nil {
		err = fmt.Errorf("volume %s is gone", id)
	}
	return id, outs, err
}

func setVolumeProtection(ctx context.Context, op *operation, v *hcloud.Volume, on bool) error {
	return op.act(ctx, fmt.Sprintf("setting the delete protection of volume %d to %v", v.ID, on),
		func() (*hcloud.Action, *hcloud.Response, error) {
			return op.client.Volume.ChangeProtection(ctx, v, hcloud.VolumeChangeProtectionOpts{Delete: &on})
		})
}

func detachVolume(ctx context.Context, op *operation, v *hcloud.Volume) error {
	return op.act(ctx, fmt.Sprintf("detaching volume %d", v.ID), func() (*hcloud.Action, *hcloud.Response, error) {
		return op.client.Volume.Detach(ctx, v)
	})
}

func attachVolume(ctx context.Context, op *operation, v *hcloud.Volume, opts hcloud.VolumeAttachOpts) error {
	return op.act(ctx, fmt.Sprintf("attaching volume %d to server %d", v.ID, opts.Server.ID),
		func() (*hcloud.Action, *hcloud.Response, error) {
			return op.client.Volume.AttachWithOpts(ctx, v, opts)
		})
}

// update follows resourceVolumeUpdate's order: name, server, size, labels, then the protection.
func (volumeKind) update(ctx context.Context, op *operation, id string, olds, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	v, err := fetch(ctx, "volume", id, op.client.Volume.GetByID)
	if err == nil && v == nil {
		err = fmt.Errorf("volume %s no longer exists (run `pulumi refresh`)", id)
	}
	if err != nil {
		return nil, err
	}
	if name := str(news, "name"); name != str(olds, "name") {
		if _, _, err := op.client.Volume.Update(ctx, v, hcloud.VolumeUpdateOpts{Name: name}); err != nil {
			return nil, fmt.Errorf("renaming volume %s: %w", id, err)
		}
	}
	oldServer, _ := intOf(olds, "serverId")
	if server, _ := intOf(news, "serverId"); server != oldServer {
		if v.Server != nil {
			if err := detachVolume(ctx, op, v); err != nil {
				return nil, err
			}
		}
		if server != 0 {
			if err := attachVolume(ctx, op, v, hcloud.VolumeAttachOpts{Server: &hcloud.Server{ID: server}}); err != nil {
				return nil, err
			}
		}
	}
	oldSize, _ := intOf(olds, "size")
	if size, _ := intOf(news, "size"); size != oldSize {
		if err := op.act(ctx, fmt.Sprintf("resizing volume %s to %d GB", id, size), func() (*hcloud.Action, *hcloud.Response, error) {
			return op.client.Volume.Resize(ctx, v, int(size))
		}); err != nil {
			return nil, err
		}
	}
	if !labelsV(labels(olds)).DeepEquals(labelsV(labels(news))) {
		if _, _, err := op.client.Volume.Update(ctx, v, hcloud.VolumeUpdateOpts{Labels: labels(news)}); err != nil {
			return nil, fmt.Errorf("updating the labels of volume %s: %w", id, err)
		}
	}
	if on := base.GetBool(news, "deleteProtection", false); on != v.Protection.Delete {
		if err := setVolumeProtection(ctx, op, v, on); err != nil {
			return nil, err
		}
	}
	_, outs, err := readVolumeAfter(ctx, op, id, news)
	return outs, err
}

func (volumeKind) delete(ctx context.Context, op *operation, id string, _ resource.PropertyMap) error {
	v, err := fetch(ctx, "volume", id, op.client.Volume.GetByID)
	if err != nil || v == nil {
		return err
	}
	if v.Protection.Delete {
		if err := setVolumeProtection(ctx, op, v, false); err != nil {
			return err
		}
	}
	if v.Server != nil {
		if err := detachVolume(ctx, op, v); err != nil {
			return err
		}
	}
	return deleteByID("volume", id, func(int64) (*hcloud.Response, error) { return op.client.Volume.Delete(ctx, v) })
}

// volumeAttachmentKind is hcloud:index/volumeAttachment:VolumeAttachment: volumeId and serverId replace
// (ForceNew); it has no name, so a replacement attaches the new one first (the engine detaches it first anyway
// when the server it names is replaced delete-first: serverId becomes unknown). Its ID is the volume's. It is
// gone when the volume or the server is, or when the volume is attached nowhere.
type volumeAttachmentKind struct{ shape }

var volumeAttachmentShape = shape{
	inputs: fields("volumeId:int! serverId:int! automount:bool"), rules: diffRules{replace: []string{"volumeId", "serverId"}},
	outputs: []string{"automount"}, restored: []string{"volumeId", "serverId", "automount"},
}

func (volumeAttachmentKind) check(_, _ resource.PropertyMap) []*pulumirpc.CheckFailure { return nil }

func (volumeAttachmentKind) create(ctx context.Context, op *operation, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	volumeID, _ := intOf(in, "volumeId")
	serverID, _ := intOf(in, "serverId")
	opts := hcloud.VolumeAttachOpts{Server: &hcloud.Server{ID: serverID}}
	if v := base.Plain(in["automount"]); v.IsBool() {
		opts.Automount = hcloud.Ptr(v.BoolValue())
	}
	if err := attachVolume(ctx, op, &hcloud.Volume{ID: volumeID}, opts); err != nil {
		return "", nil, err
	}
	return idString(volumeID), withoutInternal(in), nil
}

func (volumeAttachmentKind) read(ctx context.Context, op *operation, id string, inputs, _ resource.PropertyMap) (resource.PropertyMap, error) {
	v, err := fetch(ctx, "volume", id, op.client.Volume.GetByID)
	if err != nil || v == nil || v.Server == nil {
		return nil, err
	}
	s, _, err := op.client.Server.GetByID(ctx, v.Server.ID)
	if err != nil || s == nil {
		return nil, err
	}
	return mergeOutputs(inputs, resource.PropertyMap{"volumeId": numV(v.ID), "serverId": numV(s.ID)}), nil
}

// update only records a new automount: upstream has no Update (it matters only when attaching).
func (volumeAttachmentKind) update(_ context.Context, _ *operation, _ string, _, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	return withoutInternal(news), nil
}

func (volumeAttachmentKind) delete(ctx context.Context, op *operation, id string, _ resource.PropertyMap) error {
	v, err := fetch(ctx, "volume", id, op.client.Volume.GetByID)
	if err != nil || v == nil || v.Server == nil {
		return err
	}
	return detachVolume(ctx, op, v)
}
