package store_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/photovault/photovault/store"
)

func mediaSHA(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestInsertMediaOneTransaction(t *testing.T) {
	f := newMediaFixture(t)
	a := f.album(f.alice, "A")
	taken := time.Date(2025, 5, 4, 3, 2, 1, 123456789, time.FixedZone("x", 3600))
	ref := f.blob("pixels")
	loc := []byte("sealed-location-record")
	m, dup, err := f.st.InsertMedia(f.ctx, store.Media{
		OwnerID: f.alice, AlbumID: a.ID, SHA256: mediaSHA("pixels"), CRC32: 0xdeadbeef, Size: 6, ContentType: "image/png",
		Kind: "png", Filename: "ü.png", Width: 30, Height: 20, Orientation: 6, TakenAt: &taken, Camera: "Cam", Lens: "50mm",
	}, ref, loc)
	if err != nil || dup {
		t.Fatal(dup, err)
	}
	if !store.ValidID(m.ID) || m.Status != store.MediaStatusProcessing || m.BlobID != ref.ID || !m.HasLocation {
		t.Fatalf("inserted %+v", m)
	}
	got, err := f.st.Media(f.ctx, f.alice, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.CRC32 != 0xdeadbeef || got.Filename != "ü.png" || got.Orientation != 6 || got.Lens != "50mm" ||
		got.TakenAt == nil || !got.TakenAt.Equal(taken.Truncate(time.Millisecond)) || got.TakenAt.Location() != time.UTC ||
		!got.HasLocation || got.ContentType != "image/png" || got.Kind != "png" || got.Width != 30 {
		t.Fatalf("read back %+v", got)
	}
	if got.TakenAt.Format(time.RFC3339Nano) != m.TakenAt.Format(time.RFC3339Nano) {
		t.Fatalf("returned %v, stored %v", m.TakenAt, got.TakenAt)
	}
	if n := f.count(`SELECT count(*) FROM blobs WHERE id = ? AND refs = 1 AND delete_after_ms IS NULL`, ref.ID); n != 1 {
		t.Fatal("blob row missing or not referenced")
	}
	if n := f.count(`SELECT count(*) FROM jobs WHERE kind = 'derive' AND target = ? AND state = 'queued'`, m.ID); n != 1 {
		t.Fatal("no derive job queued")
	}
	rec, err := f.st.MediaLocation(f.ctx, f.alice, m.ID)
	if err != nil || string(rec) != string(loc) {
		t.Fatalf("location %q %v", rec, err)
	}
	if _, err := f.st.MediaLocation(f.ctx, f.bob, m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob reads alice's location: %v", err)
	}
	br, err := f.st.BlobRef(f.ctx, ref.ID)
	if err != nil || br.KeyID != ref.KeyID || string(br.WrappedKey) != string(ref.WrappedKey) {
		t.Fatalf("blob ref %+v %v", br, err)
	}
}

func TestInsertMediaDuplicate(t *testing.T) {
	f := newMediaFixture(t)
	a := f.album(f.alice, "A")
	b := f.album(f.alice, "B")
	first := f.media(f.alice, a.ID, "one.jpg", nil)
	again := f.blob("content of one.jpg")
	m, dup, err := f.st.InsertMedia(f.ctx, store.Media{OwnerID: f.alice, AlbumID: a.ID, SHA256: first.SHA256, Filename: "copy.jpg",
		ContentType: "image/jpeg", Kind: "jpeg"}, again, nil)
	if err != nil || !dup || m.ID != first.ID || m.Filename != "one.jpg" {
		t.Fatalf("dup: %+v %v %v", m, dup, err)
	}
	// Nothing of the duplicate was recorded: its blob has no row, so the
	// caller's Delete of the file is the only cleanup needed.
	if n := f.count(`SELECT count(*) FROM blobs WHERE id = ?`, again.ID); n != 0 {
		t.Fatal("duplicate's blob row recorded")
	}
	if n := f.count(`SELECT count(*) FROM media`); n != 1 {
		t.Fatalf("media rows: %d", n)
	}
	// The same content in another album is a new item.
	m2, dup, err := f.st.InsertMedia(f.ctx, store.Media{OwnerID: f.alice, AlbumID: b.ID, SHA256: first.SHA256, Filename: "one.jpg",
		ContentType: "image/jpeg", Kind: "jpeg"}, again, nil)
	if err != nil || dup || m2.ID == first.ID {
		t.Fatalf("other album: %+v %v %v", m2, dup, err)
	}
	byHash, err := f.st.MediaBySHA(f.ctx, f.alice, b.ID, first.SHA256)
	if err != nil || byHash.ID != m2.ID {
		t.Fatalf("by sha %+v %v", byHash, err)
	}
	if _, err := f.st.MediaBySHA(f.ctx, f.bob, b.ID, first.SHA256); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob by sha: %v", err)
	}
}

func TestInsertMediaIntoOtherOwnersAlbum(t *testing.T) {
	f := newMediaFixture(t)
	a := f.album(f.alice, "A")
	ref := f.blob("intruder")
	_, _, err := f.st.InsertMedia(f.ctx, store.Media{OwnerID: f.bob, AlbumID: a.ID, SHA256: mediaSHA("intruder"),
		ContentType: "image/jpeg", Kind: "jpeg"}, ref, nil)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob inserted into alice's album: %v", err)
	}
	if n := f.count(`SELECT count(*) FROM media`) + f.count(`SELECT count(*) FROM blobs`) + f.count(`SELECT count(*) FROM jobs`); n != 0 {
		t.Fatalf("rows written: %d", n)
	}
}

func TestAlbumMediaOrder(t *testing.T) {
	f := newMediaFixture(t)
	a := f.album(f.alice, "Order")
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	// Inserted shuffled; expected order: by time, then name; no time last.
	f.media(f.alice, a.ID, "c-notime.jpg", nil)
	f.media(f.alice, a.ID, "b-t1.jpg", mediaPtr(t0.Add(time.Minute)))
	f.media(f.alice, a.ID, "a-notime.jpg", nil)
	f.media(f.alice, a.ID, "z-t0.jpg", &t0)
	f.media(f.alice, a.ID, "a-t1.jpg", mediaPtr(t0.Add(time.Minute)))
	other := f.album(f.bob, "Other")
	f.media(f.bob, other.ID, "bob.jpg", nil)
	list, err := f.st.AlbumMedia(f.ctx, f.alice, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range list {
		names = append(names, m.Filename)
	}
	want := []string{"z-t0.jpg", "a-t1.jpg", "b-t1.jpg", "a-notime.jpg", "c-notime.jpg"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", names, want)
	}
	if l, _ := f.st.AlbumMedia(f.ctx, f.bob, a.ID); len(l) != 0 {
		t.Fatalf("bob lists alice's media: %v", l)
	}
	if l, _ := f.st.AlbumMedia(f.ctx, f.alice, other.ID); len(l) != 0 {
		t.Fatalf("alice lists bob's media: %v", l)
	}
}

func TestKnownSHA256(t *testing.T) {
	f := newMediaFixture(t)
	a := f.album(f.alice, "A")
	b := f.album(f.alice, "B")
	m1 := f.media(f.alice, a.ID, "1.jpg", nil)
	m2 := f.media(f.alice, b.ID, "2.jpg", nil)
	bobAlbum := f.album(f.bob, "Bob")
	bm := f.media(f.bob, bobAlbum.ID, "bob.jpg", nil)
	unknown := mediaSHA("nobody has this")
	query := []string{unknown, m2.SHA256, bm.SHA256, m1.SHA256, m2.SHA256}
	known, err := f.st.KnownSHA256(f.ctx, f.alice, query)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(known) != fmt.Sprint([]string{m2.SHA256, m1.SHA256}) {
		t.Fatalf("known %v", known)
	}
	known, _ = f.st.KnownSHA256(f.ctx, f.bob, query)
	if fmt.Sprint(known) != fmt.Sprint([]string{bm.SHA256}) {
		t.Fatalf("bob known %v", known)
	}
	// A large batch is one query.
	big := make([]string, 10000)
	for i := range big {
		big[i] = mediaSHA(fmt.Sprint(i))
	}
	big[9999] = m1.SHA256
	known, err = f.st.KnownSHA256(f.ctx, f.alice, big)
	if err != nil || len(known) != 1 || known[0] != m1.SHA256 {
		t.Fatalf("big batch %v %v", known, err)
	}
	known, err = f.st.KnownSHA256(f.ctx, f.alice, nil)
	if err != nil || known == nil || len(known) != 0 {
		t.Fatalf("empty: %#v %v", known, err)
	}
}

func TestDeleteMedia(t *testing.T) {
	f := newMediaFixture(t)
	a := f.album(f.alice, "A")
	m := f.media(f.alice, a.ID, "gone.jpg", nil)
	keep := f.media(f.alice, a.ID, "kept.jpg", nil)
	prev := f.blob("preview")
	if err := f.st.PutDerivative(f.ctx, store.Derivative{MediaID: m.ID, Variant: "preview", Size: prev.Size, ContentType: "image/jpeg"}, prev); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.UpdateAlbum(f.ctx, f.alice, a.ID, store.AlbumUpdate{CoverMediaID: &m.ID}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.DeleteMedia(f.ctx, f.bob, m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob deletes alice's media: %v", err)
	}
	if _, err := f.st.Media(f.ctx, f.alice, m.ID); err != nil {
		t.Fatalf("refused delete changed something: %v", err)
	}
	if err := f.st.DeleteMedia(f.ctx, f.alice, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Media(f.ctx, f.alice, m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("media still there: %v", err)
	}
	if err := f.st.DeleteMedia(f.ctx, f.alice, m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	for _, id := range []string{m.BlobID, prev.ID} {
		if n := f.count(`SELECT count(*) FROM blobs WHERE id = ? AND refs = 0 AND delete_after_ms IS NOT NULL`, id); n != 1 {
			t.Fatalf("blob %s not handed to the collector", id)
		}
	}
	if n := f.count(`SELECT count(*) FROM jobs WHERE target = ?`, m.ID); n != 0 {
		t.Fatal("job left behind")
	}
	if _, err := f.st.Derivative(f.ctx, m.ID, "preview"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("derivative left: %v", err)
	}
	if got, _ := f.st.Album(f.ctx, f.alice, a.ID); got.CoverMediaID != keep.ID || got.MediaCount != 1 {
		t.Fatalf("album after delete %+v", got)
	}
}
