package hcloud

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// terraform-provider-hcloud internal/volume/resource.go (SDKv2): location ForceNew; name, size, server_id, labels,
// delete_protection in place; format and automount only at create. Delete lifts the protection and detaches
// (upstream docs, "Delete Protection": "the Provider will lift the lock").
func TestVolume(t *testing.T) {
	h := newHarness(t)
	host := newHost(t, h)
	serverID, _ := h.mustCreate(host.urn, host.in)
	urn := urnOf(volumeType, "mail")
	in := h.mustCheck(urn, props(map[string]any{"name": "mail-data", "size": 10, "location": "nbg1", "format": "ext4",
		"automount": false, "deleteProtection": true, "labels": map[string]any{"managed-by": "mailstack"}}))

	h.api.reset()
	id, outs := h.mustCreate(urn, in)
	wantNumericID(t, "volume", id)
	wantBody(t, "create", h.api.one("POST", "/volumes"), map[string]any{"name": "mail-data", "size": float64(10),
		"location": "nbg1", "format": "ext4", "automount": false, "labels": map[string]any{"managed-by": "mailstack"}})
	if h.api.one("POST", "/volumes/"+id+"/actions/change_protection")["delete"] != true {
		t.Error("the delete protection was not set after the create")
	}
	wantString(t, outs, "linuxDevice", "/dev/disk/by-id/scsi-0HC_Volume_"+id)
	if !get(outs, "deleteProtection").DeepEquals(boolV(true)) {
		t.Errorf("deleteProtection output %v", get(outs, "deleteProtection"))
	}

	// Named by the program: a replacement deletes first (the bridge's name rule).
	h.wantChanges(urn, id, in, outs, []change{
		{"location", "fsn1", true, true},
		{"size", 20, false, false}, {"name", "other", false, false}, {"deleteProtection", false, false, false},
		{"format", "xfs", false, false}, {"automount", true, false, false},
	})

	// Grow, attach through serverId, unprotect: in place, in upstream's order.
	news := in.Copy()
	news["size"] = resource.NewPropertyValue(20)
	news["serverId"] = resource.NewPropertyValue(float64(mustID(t, serverID)))
	news["deleteProtection"] = boolV(false)
	h.api.reset()
	upd := h.mustUpdate(urn, id, in, outs, news)
	wantCalls(t, "update", h.api.calls(), []string{"GET /volumes/" + id, "POST /volumes/" + id + "/actions/attach",
		"POST /volumes/" + id + "/actions/resize", "POST /volumes/" + id + "/actions/change_protection", "GET /volumes/" + id})
	if !get(upd, "size").DeepEquals(numV(20)) || !get(upd, "serverId").DeepEquals(numV(mustID(t, serverID))) {
		t.Errorf("after the update: %v", upd)
	}

	// A shrink passes the plan and fails at the API, as upstream.
	shrink := news.Copy()
	shrink["size"] = resource.NewPropertyValue(10)
	if _, err := h.update(urn, id, news, upd, shrink, false); err == nil {
		t.Error("a shrink went through")
	}

	// Protected again, serverId dropped: detached. Then attached behind our back: the delete lifts the
	// protection, detaches and deletes.
	again := news.Copy()
	delete(again, "serverId")
	again["deleteProtection"] = boolV(true)
	h.api.reset()
	upd = h.mustUpdate(urn, id, news, upd, again)
	wantCalls(t, "detach", h.api.calls(), []string{"GET /volumes/" + id, "POST /volumes/" + id + "/actions/detach",
		"POST /volumes/" + id + "/actions/change_protection", "GET /volumes/" + id})
	sid := mustID(t, serverID)
	h.api.mu.Lock()
	h.api.volumes[mustID(t, id)].Server = &sid
	h.api.mu.Unlock()
	h.api.reset()
	h.mustDelete(urn, id, upd)
	wantCalls(t, "delete", h.api.calls(), []string{"GET /volumes/" + id, "POST /volumes/" + id + "/actions/change_protection",
		"POST /volumes/" + id + "/actions/detach", "DELETE /volumes/" + id})
	h.mustDelete(urn, id, upd) // gone: no error
}

// internal/volume/resource_attachment.go (SDKv2, no name): volume_id and server_id ForceNew, create-first on a
// replacement; the ID is the volume's; gone when the volume is detached or its server is gone.
func TestVolumeAttachment(t *testing.T) {
	h := newHarness(t)
	host := newHost(t, h)
	serverID, serverOuts := h.mustCreate(host.urn, host.in)
	volID, _ := h.mustCreate(urnOf(volumeType, "v"), h.mustCheck(urnOf(volumeType, "v"),
		props(map[string]any{"name": "mail-data", "size": 10, "location": "nbg1"})))
	urn := urnOf(volumeAttachmentType, "a")
	in := h.mustCheck(urn, props(map[string]any{"volumeId": float64(mustID(t, volID)),
		"serverId": float64(mustID(t, serverID)), "automount": false}))
	h.api.reset()
	id, outs := h.mustCreate(urn, in)
	if id != volID {
		t.Errorf("attachment ID %s, want the volume's %s", id, volID)
	}
	wantBody(t, "attach", h.api.one("POST", "/volumes/"+volID+"/actions/attach"),
		map[string]any{"server": float64(mustID(t, serverID)), "automount": false})

	news := in.Copy()
	news["serverId"] = resource.NewPropertyValue(float64(999))
	wantDiff(t, "serverId", h.diff(urn, id, in, outs, news), []string{"serverId"}, []string{"serverId"}, false)
	news = in.Copy()
	news["volumeId"] = resource.NewPropertyValue(float64(998))
	wantDiff(t, "volumeId", h.diff(urn, id, in, outs, news), []string{"volumeId"}, []string{"volumeId"}, false)

	// A second attachment of an attached volume fails at the API (create-first needs a detached volume).
	if _, _, err := h.create(urn, in, false); err == nil {
		t.Error("attaching an attached volume went through")
	}

	// The server's deletion detaches the volume: the attachment is gone, the volume stays.
	if gotID, _, _ := h.read(urn, id, outs, in); gotID != id {
		t.Errorf("read of a live attachment: %q", gotID)
	}
	h.mustDelete(host.urn, serverID, serverOuts)
	if gotID, _, _ := h.read(urn, id, outs, in); gotID != "" {
		t.Errorf("read after the server's deletion: %q, want gone", gotID)
	}
	if _, ok := h.api.volumes[mustID(t, volID)]; !ok {
		t.Error("the volume went with the server")
	}
	h.api.reset()
	h.mustDelete(urn, id, outs)
	wantCalls(t, "delete of a detached attachment", h.api.calls(), []string{"GET /volumes/" + volID})
}

// Server protection: delete and rebuild protection in place (change_protection); a delete lifts it first.
func TestServerProtection(t *testing.T) {
	h := newHarness(t)
	host := newHost(t, h)
	in := host.in.Copy()
	in["deleteProtection"], in["rebuildProtection"] = boolV(true), boolV(true)
	h.api.reset()
	id, outs := h.mustCreate(host.urn, in)
	wantBody(t, "protect", h.api.one("POST", "/servers/"+id+"/actions/change_protection"),
		map[string]any{"delete": true, "rebuild": true})
	if !get(outs, "deleteProtection").DeepEquals(boolV(true)) || !get(outs, "rebuildProtection").DeepEquals(boolV(true)) {
		t.Errorf("protection outputs %v %v", get(outs, "deleteProtection"), get(outs, "rebuildProtection"))
	}
	news := in.Copy()
	news["deleteProtection"], news["rebuildProtection"] = boolV(false), boolV(false)
	wantDiff(t, "protection", h.diff(host.urn, id, in, outs, news), []string{"deleteProtection", "rebuildProtection"}, nil, false)
	h.api.reset()
	h.mustDelete(host.urn, id, outs)
	wantCalls(t, "delete", h.api.calls(), []string{"POST /servers/" + id + "/actions/change_protection", "DELETE /servers/" + id})
}
