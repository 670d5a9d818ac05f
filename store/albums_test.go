package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/blob"
	"github.com/photovault/photovault/store/keys"
	"github.com/photovault/photovault/store/storetest"
)

// mediaFixture is a migrated store, a real blob store and two owners.
type mediaFixture struct {
	t          *testing.T
	ctx        context.Context
	st         *store.Store
	blobs      *blob.Store
	kek        blob.KEK
	alice, bob string
}

func newMediaFixture(t *testing.T) *mediaFixture {
	t.Helper()
	ctx := context.Background()
	st := storetest.New(t)
	dir := t.TempDir()
	bs, err := blob.New(filepath.Join(dir, "blobs"), filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keys.Generate()
	f := &mediaFixture{t: t, ctx: ctx, st: st, blobs: bs, kek: blob.KEK{ID: blob.KeyID(k), Key: k}}
	for _, name := range []string{"alice", "bob"} {
		u, err := st.CreateUser(ctx, name, "hash-"+name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "alice" {
			f.alice = u.ID
		} else {
			f.bob = u.ID
		}
	}
	return f
}

// blob writes a real encrypted blob holding content.
func (f *mediaFixture) blob(content string) blob.Ref {
	f.t.Helper()
	w, err := f.blobs.Create(f.kek)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := w.Write([]byte(content)); err != nil {
		f.t.Fatal(err)
	}
	ref, err := w.Commit()
	if err != nil {
		f.t.Fatal(err)
	}
	return ref
}

func (f *mediaFixture) album(owner, title string) store.Album {
	f.t.Helper()
	a, err := f.st.CreateAlbum(f.ctx, owner, title, "desc "+title)
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

// media inserts a media item with content-derived hash into album.
func (f *mediaFixture) media(owner, album, name string, taken *time.Time) store.Media {
	f.t.Helper()
	ref := f.blob("content of " + name)
	m, dup, err := f.st.InsertMedia(f.ctx, store.Media{
		OwnerID: owner, AlbumID: album, SHA256: mediaSHA("content of " + name), CRC32: 7, Size: ref.Size,
		ContentType: "image/jpeg", Kind: "jpeg", Filename: name, Width: 4, Height: 3, TakenAt: taken, Camera: "Cam",
	}, ref, nil)
	if err != nil || dup {
		f.t.Fatalf("insert media %s: dup=%v err=%v", name, dup, err)
	}
	return m
}

// raw opens the database file directly, as an inspector would.
func (f *mediaFixture) raw() *sql.DB {
	f.t.Helper()
	db, err := sql.Open("sqlite", "file:"+f.st.Path()+"?mode=ro")
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = db.Close() })
	return db
}

func (f *mediaFixture) count(q string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.raw().QueryRow(q, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func mediaPtr[T any](v T) *T { return &v }

func TestAlbumCRUD(t *testing.T) {
	f := newMediaFixture(t)
	ctx := f.ctx
	a := f.album(f.alice, "Wedding")
	if !store.ValidID(a.ID) || a.OwnerID != f.alice || a.Title != "Wedding" || a.MediaCount != 0 || a.CoverMediaID != "" {
		t.Fatalf("created %+v", a)
	}
	got, err := f.st.Album(ctx, f.alice, a.ID)
	if err != nil || got.Title != "Wedding" || got.Description != "desc Wedding" || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("album %+v %v", got, err)
	}
	b := f.album(f.alice, "Portraits")
	f.album(f.bob, "Bob's")
	list, err := f.st.Albums(ctx, f.alice)
	if err != nil || len(list) != 2 {
		t.Fatalf("albums %+v %v", list, err)
	}
	for _, x := range list {
		if x.OwnerID != f.alice {
			t.Fatalf("foreign album listed: %+v", x)
		}
	}
	up, err := f.st.UpdateAlbum(ctx, f.alice, b.ID, store.AlbumUpdate{Title: mediaPtr("Portraits 2026")})
	if err != nil || up.Title != "Portraits 2026" || up.Description != "desc Portraits" {
		t.Fatalf("update %+v %v", up, err)
	}
	up, err = f.st.UpdateAlbum(ctx, f.alice, b.ID, store.AlbumUpdate{Description: mediaPtr("")})
	if err != nil || up.Title != "Portraits 2026" || up.Description != "" {
		t.Fatalf("update description %+v %v", up, err)
	}
	if err := f.st.DeleteAlbum(ctx, f.alice, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Album(ctx, f.alice, b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted album: %v", err)
	}
	if err := f.st.DeleteAlbum(ctx, f.alice, b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestAlbumCover(t *testing.T) {
	f := newMediaFixture(t)
	ctx := f.ctx
	a := f.album(f.alice, "Cover")
	t1 := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	late := f.media(f.alice, a.ID, "b.jpg", mediaPtr(t1.Add(time.Hour)))
	early := f.media(f.alice, a.ID, "z.jpg", &t1)
	f.media(f.alice, a.ID, "a.jpg", nil)
	got, _ := f.st.Album(ctx, f.alice, a.ID)
	if got.CoverMediaID != early.ID || got.MediaCount != 3 {
		t.Fatalf("implicit cover: %+v, want %s", got, early.ID)
	}
	got, err := f.st.UpdateAlbum(ctx, f.alice, a.ID, store.AlbumUpdate{CoverMediaID: &late.ID})
	if err != nil || got.CoverMediaID != late.ID {
		t.Fatalf("explicit cover %+v %v", got, err)
	}
	// Another album's media, another owner's media, garbage: refused, unchanged.
	other := f.album(f.alice, "Other")
	otherMedia := f.media(f.alice, other.ID, "o.jpg", nil)
	bobAlbum := f.album(f.bob, "Bob")
	bobMedia := f.media(f.bob, bobAlbum.ID, "bob.jpg", nil)
	for _, id := range []string{otherMedia.ID, bobMedia.ID, store.NewID()} {
		if _, err := f.st.UpdateAlbum(ctx, f.alice, a.ID, store.AlbumUpdate{CoverMediaID: mediaPtr(id)}); !errors.Is(err, store.ErrInvalidCover) {
			t.Fatalf("cover %s: %v", id, err)
		}
	}
	if got, _ := f.st.Album(ctx, f.alice, a.ID); got.CoverMediaID != late.ID {
		t.Fatalf("cover changed by a refused update: %+v", got)
	}
	// Deleting the cover falls back to the first media in order.
	if err := f.st.DeleteMedia(ctx, f.alice, late.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.st.Album(ctx, f.alice, a.ID); got.CoverMediaID != early.ID || got.MediaCount != 2 {
		t.Fatalf("after deleting the cover: %+v", got)
	}
	if n := f.count(`SELECT count(*) FROM albums WHERE cover_media_id IS NOT NULL`); n != 0 {
		t.Fatalf("dangling cover ids: %d", n)
	}
	// Clearing.
	f.st.UpdateAlbum(ctx, f.alice, a.ID, store.AlbumUpdate{CoverMediaID: &early.ID})
	got, err = f.st.UpdateAlbum(ctx, f.alice, a.ID, store.AlbumUpdate{CoverMediaID: mediaPtr("")})
	if err != nil || got.CoverMediaID != early.ID {
		t.Fatalf("cleared cover: %+v %v", got, err)
	}
	if n := f.count(`SELECT count(*) FROM albums WHERE id = ? AND cover_media_id IS NULL`, a.ID); n != 1 {
		t.Fatal("cover not cleared")
	}
}

func TestAlbumOtherOwner(t *testing.T) {
	f := newMediaFixture(t)
	ctx := f.ctx
	a := f.album(f.alice, "Private")
	m := f.media(f.alice, a.ID, "x.jpg", nil)
	if _, err := f.st.Album(ctx, f.bob, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob reads alice's album: %v", err)
	}
	if _, err := f.st.UpdateAlbum(ctx, f.bob, a.ID, store.AlbumUpdate{Title: mediaPtr("pwned")}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob updates alice's album: %v", err)
	}
	if err := f.st.DeleteAlbum(ctx, f.bob, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob deletes alice's album: %v", err)
	}
	list, _ := f.st.Albums(ctx, f.bob)
	if len(list) != 0 {
		t.Fatalf("bob lists %+v", list)
	}
	got, err := f.st.Album(ctx, f.alice, a.ID)
	if err != nil || got.Title != "Private" || got.MediaCount != 1 {
		t.Fatalf("alice's album changed: %+v %v", got, err)
	}
	if _, err := f.st.Media(ctx, f.alice, m.ID); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteAlbumCascades(t *testing.T) {
	f := newMediaFixture(t)
	ctx := f.ctx
	a := f.album(f.alice, "Gone")
	keep := f.album(f.alice, "Kept")
	m1 := f.media(f.alice, a.ID, "1.jpg", nil)
	m2 := f.media(f.alice, a.ID, "2.jpg", nil)
	k := f.media(f.alice, keep.ID, "k.jpg", nil)
	thumb := f.blob("thumb bytes")
	if err := f.st.PutDerivative(ctx, store.Derivative{MediaID: m1.ID, Variant: "thumb", Size: thumb.Size, ContentType: "image/jpeg"}, thumb); err != nil {
		t.Fatal(err)
	}
	if err := f.st.DeleteAlbum(ctx, f.alice, a.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{m1.ID, m2.ID} {
		if _, err := f.st.Media(ctx, f.alice, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("media %s survived its album: %v", id, err)
		}
	}
	if n := f.count(`SELECT count(*) FROM derivatives WHERE media_id = ?`, m1.ID); n != 0 {
		t.Fatal("derivative survived")
	}
	if n := f.count(`SELECT count(*) FROM jobs WHERE target IN (?, ?)`, m1.ID, m2.ID); n != 0 {
		t.Fatal("jobs survived")
	}
	// Every blob of the album is unreferenced and scheduled for the collector;
	// the other album's blob is untouched.
	for _, id := range []string{m1.BlobID, m2.BlobID, thumb.ID} {
		if n := f.count(`SELECT count(*) FROM blobs WHERE id = ? AND refs = 0 AND delete_after_ms IS NOT NULL`, id); n != 1 {
			t.Fatalf("blob %s not marked for collection", id)
		}
	}
	if n := f.count(`SELECT count(*) FROM blobs WHERE id = ? AND refs = 1 AND delete_after_ms IS NULL`, k.BlobID); n != 1 {
		t.Fatal("other album's blob touched")
	}
	garbage, err := f.st.GarbageBlobs(ctx, time.Now().Add(time.Hour).UnixMilli(), 10)
	if err != nil || len(garbage) != 3 {
		t.Fatalf("garbage %v %v", garbage, err)
	}
}
